/*  endpoint.c: see endpoint.h. */
#include "endpoint.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const char *endpoint_ipc_name(int default_port)
{
    switch (default_port) {
    case ENDPOINT_WORK_PORT: return "work.sock";
    case ENDPOINT_CONTROL_PORT: return "control.sock";
    case ENDPOINT_EVENTS_PORT: return "events.sock";
    case ENDPOINT_BACKEND_PORT: return "backend.sock";
    default: return NULL;
    }
}

//  ipc://DIR naming a directory: the socket of default_port inside it.
//  Returns 1 when it was one (out written or err set), 0 when not.
static int s_ipc_dir(const char *text, int default_port, char *out, size_t out_size, int *rc,
                     mlops_err_t *err)
{
    struct stat st;
    const char *name = endpoint_ipc_name(default_port);
    char sock[ENDPOINT_MAX + 16];
    if (strncmp(text, "ipc://", 6) != 0 || !name || stat(text + 6, &st) != 0 || !S_ISDIR(st.st_mode))
        return 0;
    //  only a directory that holds such a socket: any other path stays as typed
    snprintf(sock, sizeof sock, "%s/%s", text + 6, name);
    if (stat(sock, &st) != 0 || !S_ISSOCK(st.st_mode))
        return 0;
    int n = snprintf(out, out_size, "%s/%s", text, name);
    *rc = n < 0 || (size_t)n >= out_size ? mlops_err_set(err, MLOPS_EINVAL, "broker address too long") : 0;
    return 1;
}

int endpoint_resolve(const char *text, int default_port, int port_offset, char *out,
                     size_t out_size, mlops_err_t *err)
{
    if (!text || !*text || strlen(text) >= ENDPOINT_MAX - 16)
        return mlops_err_set(err, MLOPS_EINVAL, "bad broker address '%.40s'", text ? text : "");
    int rc = 0;
    if (s_ipc_dir(text, default_port, out, out_size, &rc, err))
        return rc;
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

bool endpoint_host_is_loopback(const char *host)
{
    if (!host)
        return false;
    struct in_addr v4;
    struct in6_addr v6;
    if (inet_pton(AF_INET, host, &v4) == 1)
        return (ntohl(v4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &v6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&v6);
    return strcmp(host, "localhost") == 0;
}

bool endpoint_is_local(const char *endpoint)
{
    if (!endpoint)
        return false;
    if (strncmp(endpoint, "ipc://", 6) == 0 || strncmp(endpoint, "inproc://", 9) == 0)
        return true;
    if (strncmp(endpoint, "tcp://", 6) != 0)
        return false;
    const char *host = endpoint + 6;
    const char *colon = strrchr(host, ':');
    size_t len = colon ? (size_t)(colon - host) : strlen(host);
    if (len >= 2 && host[0] == '[' && host[len - 1] == ']')
        host++, len -= 2;
    char text[ENDPOINT_MAX];
    if (len >= sizeof text)
        return false;
    memcpy(text, host, len);
    text[len] = '\0';
    return endpoint_host_is_loopback(text);
}

int endpoint_check_open(const char *flag, const char *where, bool is_host, bool secured,
                        const char *auth, const char *fix, mlops_err_t *err)
{
    bool local = is_host ? endpoint_host_is_loopback(where) : endpoint_is_local(where);
    if (local || secured)
        return 0;
    return mlops_err_set(err, MLOPS_EINVAL,
                         "%s %.80s is reachable from other hosts without %s: %s, bind loopback, "
                         "or pass --insecure",
                         flag, where ? where : "(all interfaces)", auth, fix);
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

int endpoint_data_of_control(const char *control, char *out, size_t out_size, mlops_err_t *err)
{
    static const char sock[] = "/control.sock";
    char work[ENDPOINT_MAX];
    size_t n = strlen(control), k = sizeof sock - 1;
    if (n >= sizeof work)
        return mlops_err_set(err, MLOPS_EINVAL, "endpoint too long: '%.60s'", control);
    if (strncmp(control, "tcp://", 6) == 0) {
        const char *colon = strrchr(control, ':');
        long port = colon > control + 5 ? strtol(colon + 1, NULL, 10) : 0;
        if (port <= 1 || port > 65535)
            return mlops_err_set(err, MLOPS_EINVAL, "no work port beside '%.60s'", control);
        snprintf(work, sizeof work, "%.*s:%ld", (int)(colon - control), control, port - 1);
    } else if (strncmp(control, "ipc://", 6) == 0 && n > k && strcmp(control + n - k, sock) == 0) {
        snprintf(work, sizeof work, "%.*s/work.sock", (int)(n - k), control);
    } else
        return mlops_err_set(err, MLOPS_EINVAL, "no work endpoint beside '%.60s'", control);
    return endpoint_data(work, out, out_size, err);
}
