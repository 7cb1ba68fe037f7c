// A shim over the default SQLite VFS that fails reads of main database files on demand, as a
// disk returning EIO does. Only the tests use it (Connection.Options.vfs = "ytauto-faulty").
#include <sqlite3.h>
#include <stdatomic.h>
#include <string.h>
#include "faultvfs.h"

static sqlite3_vfs faulty;
static sqlite3_vfs *base;
static atomic_int armed;
static atomic_long failed;

typedef struct {
    sqlite3_file file;        // must come first: SQLite sees this
    sqlite3_file *real;       // the default VFS's file, allocated right after this struct
    int mainDB;
} FaultyFile;

static int fRead(sqlite3_file *f, void *buffer, int amount, sqlite3_int64 offset) {
    FaultyFile *p = (FaultyFile *)f;
    if (p->mainDB && atomic_load(&armed)) {
        atomic_fetch_add(&failed, 1);
        return SQLITE_IOERR_READ;
    }
    return p->real->pMethods->xRead(p->real, buffer, amount, offset);
}
static int fClose(sqlite3_file *f) { FaultyFile *p = (FaultyFile *)f; return p->real->pMethods ? p->real->pMethods->xClose(p->real) : SQLITE_OK; }
static int fWrite(sqlite3_file *f, const void *b, int n, sqlite3_int64 o) { FaultyFile *p = (FaultyFile *)f; return p->real->pMethods->xWrite(p->real, b, n, o); }
static int fTruncate(sqlite3_file *f, sqlite3_int64 s) { FaultyFile *p = (FaultyFile *)f; return p->real->pMethods->xTruncate(p->real, s); }
static int fSync(sqlite3_file *f, int flags) { FaultyFile *p = (FaultyFile *)f; return p->real->pMethods->xSync(p->real, flags); }
static int fFileSize(sqlite3_file *f, sqlite3_int64 *s) { FaultyFile *p = (FaultyFile *)f; return p->real->pMethods->xFileSize(p->real, s); }
static int fLock(sqlite3_file *f, int l) { FaultyFile *p = (FaultyFile *)f; return p->real->pMethods->xLock(p->real, l); }
static int fUnlock(sqlite3_file *f, int l) { FaultyFile *p = (FaultyFile *)f; return p->real->pMethods->xUnlock(p->real, l); }
static int fCheckReservedLock(sqlite3_file *f, int *r) { FaultyFile *p = (FaultyFile *)f; return p->real->pMethods->xCheckReservedLock(p->real, r); }
static int fFileControl(sqlite3_file *f, int op, void *a) { FaultyFile *p = (FaultyFile *)f; return p->real->pMethods->xFileControl(p->real, op, a); }
static int fSectorSize(sqlite3_file *f) { FaultyFile *p = (FaultyFile *)f; return p->real->pMethods->xSectorSize(p->real); }
static int fDeviceCharacteristics(sqlite3_file *f) { FaultyFile *p = (FaultyFile *)f; return p->real->pMethods->xDeviceCharacteristics(p->real); }
static int fShmMap(sqlite3_file *f, int i, int s, int e, void volatile **pp) { FaultyFile *p = (FaultyFile *)f; return p->real->pMethods->xShmMap(p->real, i, s, e, pp); }
static int fShmLock(sqlite3_file *f, int o, int n, int fl) { FaultyFile *p = (FaultyFile *)f; return p->real->pMethods->xShmLock(p->real, o, n, fl); }
static void fShmBarrier(sqlite3_file *f) { FaultyFile *p = (FaultyFile *)f; p->real->pMethods->xShmBarrier(p->real); }
static int fShmUnmap(sqlite3_file *f, int d) { FaultyFile *p = (FaultyFile *)f; return p->real->pMethods->xShmUnmap(p->real, d); }
static int fFetch(sqlite3_file *f, sqlite3_int64 o, int n, void **pp) {
    FaultyFile *p = (FaultyFile *)f;
    // No memory-mapped pages while armed: every page must come through xRead.
    if (p->mainDB && atomic_load(&armed)) { *pp = 0; return SQLITE_OK; }
    return p->real->pMethods->xFetch(p->real, o, n, pp);
}
static int fUnfetch(sqlite3_file *f, sqlite3_int64 o, void *pg) { FaultyFile *p = (FaultyFile *)f; return p->real->pMethods->xUnfetch(p->real, o, pg); }

static const sqlite3_io_methods methods = {
    3, fClose, fRead, fWrite, fTruncate, fSync, fFileSize, fLock, fUnlock, fCheckReservedLock,
    fFileControl, fSectorSize, fDeviceCharacteristics, fShmMap, fShmLock, fShmBarrier, fShmUnmap, fFetch, fUnfetch,
};

static int fOpen(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *outFlags) {
    (void)vfs;
    FaultyFile *p = (FaultyFile *)f;
    p->real = (sqlite3_file *)&p[1];
    p->mainDB = (flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_WAL)) != 0;
    int rc = base->xOpen(base, name, p->real, flags, outFlags);
    // SQLite calls xClose only when pMethods is set: set it only for a file that opened.
    f->pMethods = (rc == SQLITE_OK && p->real->pMethods) ? &methods : 0;
    return rc;
}
static int fDelete(sqlite3_vfs *v, const char *n, int s) { (void)v; return base->xDelete(base, n, s); }
static int fAccess(sqlite3_vfs *v, const char *n, int fl, int *r) { (void)v; return base->xAccess(base, n, fl, r); }
static int fFullPathname(sqlite3_vfs *v, const char *n, int size, char *out) { (void)v; return base->xFullPathname(base, n, size, out); }
static void *fDlOpen(sqlite3_vfs *v, const char *n) { (void)v; return base->xDlOpen(base, n); }
static void fDlError(sqlite3_vfs *v, int n, char *m) { (void)v; base->xDlError(base, n, m); }
static void (*fDlSym(sqlite3_vfs *v, void *h, const char *s))(void) { (void)v; return base->xDlSym(base, h, s); }
static void fDlClose(sqlite3_vfs *v, void *h) { (void)v; base->xDlClose(base, h); }
static int fRandomness(sqlite3_vfs *v, int n, char *out) { (void)v; return base->xRandomness(base, n, out); }
static int fSleep(sqlite3_vfs *v, int us) { (void)v; return base->xSleep(base, us); }
static int fCurrentTime(sqlite3_vfs *v, double *t) { (void)v; return base->xCurrentTime(base, t); }
static int fGetLastError(sqlite3_vfs *v, int n, char *m) { (void)v; return base->xGetLastError(base, n, m); }
static int fCurrentTimeInt64(sqlite3_vfs *v, sqlite3_int64 *t) { (void)v; return base->xCurrentTimeInt64(base, t); }

int ytauto_faultvfs_register(void) {
    if (sqlite3_vfs_find("ytauto-faulty")) return SQLITE_OK;
    base = sqlite3_vfs_find(0);
    if (!base) return SQLITE_ERROR;
    memset(&faulty, 0, sizeof faulty);
    faulty.iVersion = 2;
    faulty.szOsFile = (int)sizeof(FaultyFile) + base->szOsFile;
    faulty.mxPathname = base->mxPathname;
    faulty.zName = "ytauto-faulty";
    faulty.xOpen = fOpen;
    faulty.xDelete = fDelete;
    faulty.xAccess = fAccess;
    faulty.xFullPathname = fFullPathname;
    faulty.xDlOpen = fDlOpen;
    faulty.xDlError = fDlError;
    faulty.xDlSym = fDlSym;
    faulty.xDlClose = fDlClose;
    faulty.xRandomness = fRandomness;
    faulty.xSleep = fSleep;
    faulty.xCurrentTime = fCurrentTime;
    faulty.xGetLastError = fGetLastError;
    faulty.xCurrentTimeInt64 = fCurrentTimeInt64;
    return sqlite3_vfs_register(&faulty, 0);
}

void ytauto_faultvfs_fail_reads(int on) { atomic_store(&armed, on); }

long ytauto_faultvfs_failed_reads(void) { return atomic_load(&failed); }
