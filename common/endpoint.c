/*  endpoint.c: see endpoint.h. */
#include "endpoint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int endpoint_resolve(const char *text, int default_port, int port_offset, char *out,
                     size_t out_size, mlops_err_t *err)
{
    if (!text || !*text || strlen(text) >= ENDPOINT_MAX - 16)
        return mlops_err_set(err, MLOPS_EINVAL, "bad broker address '%.40s'", text ? text : "");
    const char *scheme = strstr(text, "://");
    if (scheme && strncmp(text, "tcp://", 6) != 0) {   //  ipc://, inproc://: no port to add
        snprintf(out, out_size, "%s", text);
        return 0;
    }
    const char *host = scheme ? scheme + 3 : text;
    const char *colon = strrchr(host, ':');
    int port = default_port;
    if (colon && !strchr(colon, ']')) {
        char *end = NULL;
        long p = strtol(colon + 1, &end, 10);
        if (*end || p <= 0 || p > 65535)
            return mlops_err_set(err, MLOPS_EINVAL, "bad port in '%.60s'", text);
        port = (int)p + port_offset;
        if (port > 65535)
            return mlops_err_set(err, MLOPS_EINVAL, "port out of range for '%.60s'", text);
    } else {
        colon = host + strlen(host);
    }
    if (colon == host)
        return mlops_err_set(err, MLOPS_EINVAL, "no host in '%.60s'", text);
    int n = snprintf(out, out_size, "%.*s%.*s:%d", scheme ? (int)(host - text) : 0, text,
                     (int)(colon - host), host, port);
    if (!scheme)
        n = snprintf(out, out_size, "tcp://%.*s:%d", (int)(colon - host), host, port);
    if (n < 0 || (size_t)n >= out_size)
        return mlops_err_set(err, MLOPS_EINVAL, "broker address too long");
    return 0;
}

int endpoint_data(const char *work, char *out, size_t out_size, mlops_err_t *err)
{
    const char *colon = strrchr(work, ':');
    int n;
    if (strncmp(work, "tcp://", 6) != 0)
        n = snprintf(out, out_size, "%s-data", work);
    else if (colon && strcmp(colon, ":*") == 0)
        n = snprintf(out, out_size, "%s", work);
    else
        return endpoint_resolve(work, ENDPOINT_WORK_PORT + ENDPOINT_DATA_OFFSET, ENDPOINT_DATA_OFFSET, out,
                                out_size, err);
    if (n < 0 || (size_t)n >= out_size)
        return mlops_err_set(err, MLOPS_EINVAL, "endpoint too long: '%.60s'", work);
    return 0;
}
