/*  statics.h: the dashboard's static files (index.html, app.js, style.css)
    served from one directory: GET / is DIR/index.html, GET /static/NAME is
    DIR/NAME. Nothing outside DIR is ever read: a path with a ".." or "."
    segment, an empty segment, a byte outside [A-Za-z0-9._-/] or a leading
    dot is refused before the file system is touched, and the resolved
    real path must still lie under DIR's (a symlink pointing out is refused).
*/
#ifndef MLOPS_STATICS_H
#define MLOPS_STATICS_H

#include <stddef.h>

#include "err.h"

#define STATICS_FILE_MAX_BYTES (4u << 20)   //  larger files are not served

//  Loads the file a URL path names ("/" or "/static/..."). On success
//  returns 0, *body (malloc'd, caller frees), *len and *content_type (a
//  static string). Otherwise returns an HTTP status with err saying why:
//  404 (no such file, not a regular file, not a static path, no directory
//  configured: dir NULL), 403 (a refused path), 500 (read error, too big,
//  out of memory).
int statics_load(const char *dir, const char *url, char **body, size_t *len,
                 const char **content_type, mlops_err_t *err);

//  The Content-Type for a file name by its extension
//  ("application/octet-stream" for one not known).
const char *statics_content_type(const char *name);

#endif
