#ifndef YTAUTO_CSQLITE_SHIM_H
#define YTAUTO_CSQLITE_SHIM_H
#include <sqlite3.h>

/* sqlite3_config is variadic, which Swift cannot call: these wrap the settings ytauto makes. */

/* ytauto's process-wide settings, made before SQLite initializes (the first connection);
   SQLITE_MISUSE after. Memory statistics off: keeping them takes a process-wide mutex on every
   allocation. No bulk page-cache allocation per cache: every statement with RETURNING keeps
   its rows in an ephemeral table, whose cache would otherwise allocate (and on its end free, back
   to the kernel) room for 20 pages, about 90 KB; pages are allocated one at a time instead.
   (Not SQLITE_CONFIG_STMTJRNL_SPILL: with any positive threshold, SQLite 3.40 fails
   a statement whose journal passes it with SQLITE_FULL, the disk far from full.) */
static inline int ytauto_sqlite3_configure(void) {
    int rc = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    if (rc != SQLITE_OK) return rc;
    return sqlite3_config(SQLITE_CONFIG_PAGECACHE, (void *)0, 0, 0);
}
#endif
