/*  list.h: a doubly linked intrusive list, header-only (h2o's linklist.h,
    Linux's list.h): the node lives inside the listed struct, so linking
    and unlinking never allocate and an element leaves its list in O(1)
    from a pointer to it alone.

    A list is an anchor node whose next is the first element and whose
    prev the last (it points to itself when empty). An element's node is
    NULL-linked while it is on no list, so list_linked tells whether it is
    on one. Get the element back from its node with list_entry:

        typedef struct { int x; list_node_t node; } item_t;
        list_node_t items;
        list_init(&items);
        list_push_back(&items, &item->node);
        for (list_node_t *n = list_first(&items); n; n = list_next(&items, n))
            use(list_entry(n, item_t, node));

    Caveats: an element is on at most one list per node it embeds; unlink
    it before pushing it anywhere else (asserted). While iterating, take
    the next node before unlinking the current one. No locking.
*/
#ifndef MLOPS_LIST_H
#define MLOPS_LIST_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct list_node {
    struct list_node *prev;   //  previous node (the anchor's: the last element), NULL when unlinked
    struct list_node *next;   //  next node (the anchor's: the first element), NULL when unlinked
} list_node_t;

//  The struct of type `type` whose member `member` is node.
#define list_entry(node, type, member) ((type *)((char *)(node) - offsetof(type, member)))

//  Makes anchor an empty list.
static inline void list_init(list_node_t *anchor)
{
    anchor->prev = anchor->next = anchor;
}

static inline bool list_empty(const list_node_t *anchor)
{
    return anchor->next == anchor;
}

//  True when node is on a list (an element, not an anchor).
static inline bool list_linked(const list_node_t *node)
{
    return node->next != NULL;
}

//  Links node just before pos (pos may be the anchor: then at the end).
static inline void list_insert_before(list_node_t *pos, list_node_t *node)
{
    assert(!list_linked(node));
    node->prev = pos->prev;
    node->next = pos;
    pos->prev->next = node;
    pos->prev = node;
}

static inline void list_push_back(list_node_t *anchor, list_node_t *node)
{
    list_insert_before(anchor, node);
}

static inline void list_push_front(list_node_t *anchor, list_node_t *node)
{
    list_insert_before(anchor->next, node);
}

//  Takes node off its list and marks it unlinked; does nothing when it is
//  on none.
static inline void list_unlink(list_node_t *node)
{
    if (!list_linked(node))
        return;
    node->prev->next = node->next;
    node->next->prev = node->prev;
    node->prev = node->next = NULL;
}

//  The first / last element's node, or NULL when the list is empty.
static inline list_node_t *list_first(const list_node_t *anchor)
{
    return list_empty(anchor) ? NULL : anchor->next;
}

static inline list_node_t *list_last(const list_node_t *anchor)
{
    return list_empty(anchor) ? NULL : anchor->prev;
}

//  The node after / before node on anchor's list, or NULL at its end.
static inline list_node_t *list_next(const list_node_t *anchor, const list_node_t *node)
{
    return node->next == anchor ? NULL : node->next;
}

static inline list_node_t *list_prev(const list_node_t *anchor, const list_node_t *node)
{
    return node->prev == anchor ? NULL : node->prev;
}

#endif
