/*  fault: failures the unit tests make happen on purpose.  The unit-test
    binary is linked with -Wl,--wrap=fsync, so every fsync of the code
    under test passes here first.  */
#ifndef SC_FAULT_H
#define SC_FAULT_H

//  The next n fsyncs of a directory fail with EIO (0: none).
void fault_dir_fsync (int n);

#endif
