#ifndef YTAUTO_CSQLITE_SHIM_H
#define YTAUTO_CSQLITE_SHIM_H
#include <sqlite3.h>
#endif
