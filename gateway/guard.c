/*  guard.c: see guard.h. Lists are parsed once, at start; a request costs
    a few string compares.
*/
#include "guard.h"

#include "api.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define S_CSP "default-src 'self'; frame-ancestors 'none'"

typedef struct {
    char *entries[GUARD_ENTRIES_MAX]; //  pointers into text
    size_t n;                         //  entries used
    char *text;                       //  the list, split in place (owned)
} s_list_t;

struct guard {
    s_list_t hosts;                   //  allowed Host values (name[:port])
    s_list_t origins;                 //  allowed Origins besides our own
    bool any_host;                    //  --allowed-hosts '*'
    uint16_t port;                    //  the port we listen on
    const char *admin_token;          //  borrowed from the config, NULL = none
    const char *read_token;           //  borrowed from the config, NULL = none
    int64_t header_timeout_ms;        //  a request's headers must be in by then
    list_node_t waiting;              //  guard_conn_t awaiting headers, oldest first
};

/* --- host[:port] --------------------------------------------------------- */

//  Splits "name[:port]" or "[v6]:port": *name_len, and *port (0 = none
//  given). False when it is neither (two colons outside brackets, a port
//  that is not 1..65535, an empty name).
static bool s_split(const char *text, size_t *name_len, unsigned *port)
{
    const char *colon;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (!close)
            return false;
        colon = close[1] ? close + 1 : NULL;
        if (colon && *colon != ':')
            return false;
    } else {
        colon = strchr(text, ':');
        if (colon && strchr(colon + 1, ':'))
            return false;
    }
    *name_len = colon ? (size_t)(colon - text) : strlen(text);
    *port = 0;
    if (!colon)
        return *name_len > 0;
    const char *p = colon + 1;
    if (!*p || strlen(p) > 5)
        return false;
    for (; *p; p++) {
        if (!isdigit((unsigned char)*p))
            return false;
        *port = *port * 10 + (unsigned)(*p - '0');
    }
    return *name_len > 0 && *port >= 1 && *port <= 65535;
}

//  True when host (a Host header) is what entry allows: the same name
//  (case-insensitive) and, for an entry without a port, no port or ours.
static bool s_host_matches(const guard_t *self, const char *entry, const char *host)
{
    size_t elen, hlen;
    unsigned eport, hport;
    if (!s_split(entry, &elen, &eport) || !s_split(host, &hlen, &hport))
        return false;
    if (elen != hlen || strncasecmp(entry, host, elen) != 0)
        return false;
    if (eport)
        return hport == eport;
    return hport == 0 || hport == self->port;
}

/* --- lists --------------------------------------------------------------- */

//  True when text has only the bytes a host[:port] or an origin can have.
static bool s_plain(const char *text, bool origin)
{
    for (const char *p = text; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr(".-_:[]", *p) && !(origin && *p == '/'))
            return false;
    return true;
}

//  The host[:port] part of an origin "http(s)://HOST[:PORT]", NULL when it
//  has another shape (a path, another scheme, "null").
static const char *s_origin_host(const char *origin)
{
    const char *rest = strncasecmp(origin, "http://", 7) == 0 ? origin + 7
                     : strncasecmp(origin, "https://", 8) == 0 ? origin + 8 : NULL;
    size_t name_len;
    unsigned port;
    if (!rest || strchr(rest, '/') || !s_split(rest, &name_len, &port))
        return NULL;
    return rest;
}

//  One entry of a list: checked for its kind.
static int s_check_entry(const char *entry, bool origin, const char *flag, mlops_err_t *err)
{
    size_t name_len;
    unsigned port;
    bool ok = *entry && strlen(entry) <= GUARD_ENTRY_MAX_BYTES && s_plain(entry, origin)
           && (origin ? s_origin_host(entry) != NULL : s_split(entry, &name_len, &port));
    if (!ok)
        return mlops_err_set(err, MLOPS_EINVAL, "%s: '%.64s' is not %s", flag, entry,
                             origin ? "an origin http(s)://HOST[:PORT]" : "a host NAME[:PORT]");
    return 0;
}

//  Splits a comma-separated list (spaces around entries allowed) into
//  list, checking each entry.
static int s_list_parse(s_list_t *list, const char *text, bool origin, const char *flag,
                        mlops_err_t *err)
{
    list->text = strdup(text);
    if (!list->text)
        return mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
    char *save = NULL;
    for (char *tok = strtok_r(list->text, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        tok += strspn(tok, " \t");
        for (size_t n = strlen(tok); n > 0 && (tok[n - 1] == ' ' || tok[n - 1] == '\t'); n--)
            tok[n - 1] = '\0';
        if (list->n == GUARD_ENTRIES_MAX)
            return mlops_err_set(err, MLOPS_EINVAL, "%s: more than %d entries", flag,
                                 GUARD_ENTRIES_MAX);
        int rc = s_check_entry(tok, origin, flag, err);
        if (rc != 0)
            return rc;
        list->entries[list->n++] = tok;
    }
    if (list->n == 0)
        return mlops_err_set(err, MLOPS_EINVAL, "%s: the list is empty", flag);
    return 0;
}

//  The default hosts: the loopback names and the bind address (unless it
//  is the wildcard), each with no port or ours.
static int s_default_hosts(s_list_t *list, const char *bind, mlops_err_t *err)
{
    char text[64 + GUARD_ENTRY_MAX_BYTES];
    bool named = bind && *bind && strcmp(bind, "0.0.0.0") != 0 && strcmp(bind, "::") != 0;
    snprintf(text, sizeof text, "localhost,127.0.0.1,[::1]%s%.*s", named ? "," : "",
             GUARD_ENTRY_MAX_BYTES, named ? bind : "");
    return s_list_parse(list, text, false, "--bind", err);
}

/* --- lifecycle ----------------------------------------------------------- */

guard_t *guard_new(const gateway_config_t *cfg, uint16_t port, mlops_err_t *err)
{
    bool admin = cfg->admin_token && *cfg->admin_token;
    if (cfg->read_token && *cfg->read_token && !admin) {
        mlops_err_set(err, MLOPS_EINVAL, "--read-token needs --admin-token: without an admin "
                      "token every /api call is open, reads included");
        return NULL;
    }
    guard_t *self = calloc(1, sizeof *self);
    if (!self) {
        mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
        return NULL;
    }
    list_init(&self->waiting);
    self->port = port;
    self->admin_token = admin ? cfg->admin_token : NULL;
    self->read_token = cfg->read_token && *cfg->read_token ? cfg->read_token : NULL;
    self->header_timeout_ms = cfg->header_timeout_ms;
    self->any_host = cfg->allowed_hosts && strcmp(cfg->allowed_hosts, GUARD_ANY) == 0;
    int rc = self->any_host ? 0
           : cfg->allowed_hosts ? s_list_parse(&self->hosts, cfg->allowed_hosts, false, "--allowed-hosts", err)
           : s_default_hosts(&self->hosts, cfg->bind_address, err);
    if (rc == 0 && cfg->allowed_origins && *cfg->allowed_origins)
        rc = s_list_parse(&self->origins, cfg->allowed_origins, true, "--allowed-origins", err);
    if (rc != 0)
        guard_destroy(&self);
    return self;
}

void guard_destroy(guard_t **p)
{
    if (!p || !*p)
        return;
    guard_t *self = *p;
    while (!list_empty(&self->waiting))
        list_unlink(self->waiting.next);
    free(self->origins.text);
    free(self->hosts.text);
    free(self);
    *p = NULL;
}

/* --- the rules ----------------------------------------------------------- */

int guard_host(const guard_t *self, const char *host)
{
    if (self->any_host)
        return 0;
    if (!host)
        return 403;
    for (size_t i = 0; i < self->hosts.n; i++)
        if (s_host_matches(self, self->hosts.entries[i], host))
            return 0;
    return 403;
}

int guard_origin(const guard_t *self, const char *origin, const char *host)
{
    if (!origin)
        return 0;   //  not from a browser page, or one that sends none: Content-Type covers it
    const char *own = s_origin_host(origin);
    if (own && host && strcasecmp(own, host) == 0)
        return 0;
    for (size_t i = 0; i < self->origins.n; i++)
        if (strcasecmp(self->origins.entries[i], origin) == 0)
            return 0;
    return 403;
}

int guard_content_type(const char *content_type)
{
    if (!content_type)
        return 415;
    const char *p = content_type + strspn(content_type, " \t");
    if (strncasecmp(p, "application/json", 16) != 0)
        return 415;
    char next = p[16];
    return next == '\0' || next == ';' || next == ' ' || next == '\t' ? 0 : 415;
}

int guard_read_token(const guard_t *self, const char *authorization)
{
    if (!self->admin_token)
        return 0;
    //  both checked every time: the time taken does not say which one matched
    int admin = api_token_check(self->admin_token, authorization);
    int read = self->read_token ? api_token_check(self->read_token, authorization) : 403;
    if (admin == 0 || read == 0)
        return 0;
    return admin;
}

int guard_check(const guard_t *self, const guard_request_t *req, const char **why, bool *challenge)
{
    *why = NULL;
    *challenge = false;
    if (guard_host(self, req->host) != 0) {
        *why = "the Host header is missing or names no host this gateway serves: start it with "
               "--allowed-hosts NAME[:PORT] to serve that name (a guard against DNS rebinding)";
        return 403;
    }
    bool feedback = strcmp(req->path, "/feedback") == 0;   //  labels change live metrics: an action
    if (strncmp(req->path, "/api/", 5) != 0 && !feedback)
        return 0;
    if (!feedback && (strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0)) {
        int status = guard_read_token(self, req->authorization);
        *challenge = status == 401;
        *why = status == 401 ? "the /api reads need a token when the gateway has an admin token: "
                               "send Authorization: Bearer TOKEN (the admin or the read token)"
             : status == 403 ? "the token is not the right one" : NULL;
        return status;
    }
    if (strcmp(req->method, "POST") != 0 || (!feedback && !api_call_is_action(api_call_of(req->path))))
        return 0;   //  refused by the router with 404 / 405
    if (guard_origin(self, req->origin, req->host) != 0) {
        *why = "cross-origin request refused: the Origin is not this gateway's own; start it "
               "with --allowed-origins ORIGIN to accept one";
        return 403;
    }
    if (guard_content_type(req->content_type) != 0) {
        *why = feedback ? "/feedback takes Content-Type: application/json only"
                        : "the /api actions take Content-Type: application/json only (an empty body too)";
        return 415;
    }
    return 0;
}

const guard_header_t *guard_headers(const char *content_type, size_t *n)
{
    static const guard_header_t all[] = {
        {"X-Content-Type-Options", "nosniff"},
        {"Content-Security-Policy", S_CSP},
        {"X-Frame-Options", "DENY"},
        {"Referrer-Policy", "no-referrer"},
    };
    bool json = content_type && strncasecmp(content_type, "application/json", 16) == 0;
    *n = json ? 1 : sizeof all / sizeof all[0];
    return all;
}

/* --- header clocks ------------------------------------------------------- */

void guard_conn_start(guard_t *self, guard_conn_t *c, void *conn, int64_t now_ms)
{
    c->conn = conn;
    c->deadline_ms = now_ms + self->header_timeout_ms;
    //  one timeout for all: the list stays in deadline order by appending
    list_push_back(&self->waiting, &c->node);
}

void guard_conn_stop(guard_conn_t *c)
{
    list_unlink(&c->node);
}

guard_conn_t *guard_conn_expired(guard_t *self, int64_t now_ms)
{
    if (list_empty(&self->waiting))
        return NULL;
    guard_conn_t *c = list_entry(self->waiting.next, guard_conn_t, node);
    if (c->deadline_ms > now_ms)
        return NULL;
    list_unlink(&c->node);
    return c;
}

int64_t guard_conn_due_ms(const guard_t *self)
{
    if (list_empty(&self->waiting))
        return INT64_MAX;
    return list_entry(self->waiting.next, guard_conn_t, node)->deadline_ms;
}
