/*  err.c: names for the error codes of err.h. */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *mlops_strerror(int code)
{
    switch (code) {
    case MLOPS_OK: return "success";
    case MLOPS_EPROTO: return "malformed message";
    case MLOPS_EVERSION: return "unsupported version";
    case MLOPS_ECOMMAND: return "unknown command";
    case MLOPS_ETOOBIG: return "too big";
    case MLOPS_ECSV: return "malformed CSV";
    case MLOPS_EINVAL: return "invalid argument";
    case MLOPS_ENOTFOUND: return "not found";
    case MLOPS_ECORRUPT: return "corrupt data";
    case MLOPS_EMAPFULL: return "store is full (raise --store-size)";
    case MLOPS_ESTORE: return "store error";
    case MLOPS_ECONVERGE: return "solver did not converge";
    case MLOPS_ETIMEOUT: return "timed out";
    case MLOPS_ENOMODEL: return "no model available";
    case MLOPS_ESTATE: return "wrong state";
    case MLOPS_ENOMEM: return "out of memory";
    case MLOPS_EFOREIGN: return "not an mlops file";
    case MLOPS_ECHECK: return "validation failed";
    case MLOPS_ECANCELED: return "cancelled";
    default:
        if (code > 0)
            return strerror(code);
        return "unknown error";
    }
}

int mlops_err_set(mlops_err_t *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

void mlops_err_clear(mlops_err_t *err)
{
    if (err) {
        err->code = 0;
        err->msg[0] = '\0';
    }
}

const char *mlops_err_text(const mlops_err_t *err, int code)
{
    if (err && err->msg[0])
        return err->msg;
    return mlops_strerror(code);
}
