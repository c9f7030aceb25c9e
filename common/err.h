/*  err.h: the one error vocabulary of the tree.

    Every library function that can fail returns an int: 0 on success, a
    negative MLOPS_E* code of ours, or a positive errno value passed through
    from the system (as LMDB does). mlops_strerror() names any of them.

    Where the caller deserves more than a code (which field, which line, which
    byte), the function also takes an `mlops_err_t *` and writes a message into
    it. The pointer may be NULL when the caller only wants the code.
*/
#ifndef MLOPS_ERR_H
#define MLOPS_ERR_H

#include <stddef.h>

//  Codes sit below -30000, away from errno values and from LMDB's -30799..-30780.
enum {
    MLOPS_OK = 0,
    MLOPS_EPROTO = -30900,   //  malformed message: bad msgpack, wrong type, missing field
    MLOPS_EVERSION = -30901, //  unknown protocol or artifact version
    MLOPS_ECOMMAND = -30902, //  unknown command
    MLOPS_ETOOBIG = -30903,  //  a frame, body or count over its limit
    MLOPS_ECSV = -30904,     //  a CSV that cannot be read as a table
    MLOPS_EINVAL = -30905,   //  bad argument or option from a user
    MLOPS_ENOTFOUND = -30906, //  no such run, version, dataset or column
    MLOPS_ECORRUPT = -30907, //  stored or received bytes fail their checks
    MLOPS_EMAPFULL = -30908, //  the LMDB map is full
    MLOPS_ESTORE = -30909,   //  the store failed (see message)
    MLOPS_ECONVERGE = -30910, //  a solver did not converge
    MLOPS_ETIMEOUT = -30911, //  a deadline passed
    MLOPS_ENOMODEL = -30912, //  no model is available (yet)
    MLOPS_ESTATE = -30913,   //  the object is in the wrong state for this call
    MLOPS_ENOMEM = -30914,   //  out of memory
    MLOPS_EFOREIGN = -30915, //  the file or blob is not ours
    MLOPS_ECHECK = -30916,   //  a record fails validation (see problems)
    MLOPS_ECANCELED = -30917, //  the work was cancelled (progress_cancel)
};

#define MLOPS_ERRMSG_MAX 512

typedef struct {
    int code;                     //  last code set, 0 when none
    char msg[MLOPS_ERRMSG_MAX];   //  human sentence naming field / line / byte
} mlops_err_t;

//  Returns a static, never-NULL description of code (ours or errno).
const char *mlops_strerror(int code);

//  Sets err (if not NULL) to code and a printf-formatted message.
//  Returns code, so callers can write `return mlops_err_set(err, ...)`.
int mlops_err_set(mlops_err_t *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

//  Clears err (if not NULL).
void mlops_err_clear(mlops_err_t *err);

//  Returns err->msg if set, else mlops_strerror(code). Never NULL.
const char *mlops_err_text(const mlops_err_t *err, int code);

#endif
