/*  err: the project's one table of error codes.

    Every function in securechat returns 0 or one of these negative codes;
    constructors return NULL.  It sits in the bottom layer so that every
    module can use it.  sc_strerror gives a sentence for a person.  */
#ifndef SC_ERR_H
#define SC_ERR_H

enum {
    SC_OK = 0,
    SC_ENOMEM = -1,       /* out of memory */
    SC_EIO = -2,          /* a read, write or rename failed */
    SC_ENOENT = -3,       /* no such file or entry */
    SC_EINVAL = -4,       /* a caller or user gave a bad argument */
    SC_EPASSPHRASE = -5,  /* wrong passphrase */
    SC_ENEEDPASS = -6,    /* identity is encrypted and no passphrase was given */
    SC_ECORRUPT = -7,     /* a stored file is damaged */
    SC_EMALFORMED = -8,   /* bytes from outside do not follow the format */
    SC_ETRUNC = -9,       /* bytes from outside end early */
    SC_ETOOBIG = -10,     /* a declared size or count exceeds a limit */
    SC_EDEPTH = -11,      /* nesting too deep */
    SC_EVERSION = -12,    /* unknown format version */
    SC_ETYPE = -13,       /* unknown frame type */
    SC_EBOX = -14,        /* sealed box does not open with our key */
    SC_ESIG = -15,        /* signature does not verify */
    SC_ENOTFORME = -16,   /* addressed to another identity */
    SC_EUNKNOWN = -17,    /* sender is not a known peer */
    SC_ESENDER = -18,     /* signed sender differs from the link's key */
    SC_EREPLAY = -19,     /* message seen before */
    SC_ESTALE = -20,      /* timestamp outside the accepted window */
    SC_ECRYPTO = -21,     /* a libsodium call failed */
    SC_ENOPEER = -22,     /* no peer by that name or fingerprint */
    SC_EAMBIGUOUS = -23,  /* several peers match the name */
    SC_EKEYCHANGED = -24, /* a known name now comes with another key */
    SC_EAGAIN = -25,      /* not possible now; try again later */
    SC_ENET = -26,        /* a socket call failed */
    SC_EEXIST = -27,      /* already exists */
    SC_EPERM = -28,       /* not permitted */
    SC_EOFFLINE = -29,    /* the peer is not online now */
    SC_EFULL = -30,       /* a queue is full */
    SC_ELAST = -31
};

//  Returns a static sentence describing rc (0 or negative); never NULL.
const char *sc_strerror (int rc);

//  Returns a short stable name for rc ("bad_signature"), for JSON "code".
const char *sc_errname (int rc);

#endif
