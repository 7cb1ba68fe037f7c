#ifndef YTAUTO_FAULTVFS_H
#define YTAUTO_FAULTVFS_H

/// Registers the "ytauto-faulty" SQLite VFS (not as the default): the system's default VFS
/// with reads of main database files failing as a disk's EIO does, while armed.
/// Returns SQLITE_OK or SQLite's error code. Safe to call more than once.
int ytauto_faultvfs_register(void);

/// Arms (1) or disarms (0) the read faults: while armed every xRead of a main database file
/// or WAL file opened through the VFS returns SQLITE_IOERR_READ.
void ytauto_faultvfs_fail_reads(int on);

/// How many reads failed since the VFS was registered.
long ytauto_faultvfs_failed_reads(void);

#endif
