/*  test_list.c: common/list.h, the intrusive list: pushing at both ends,
    unlinking from the middle and the ends, walking both ways, and an
    element's way back from its node. */
#include "list.h"
#include "testing.h"

typedef struct {
    int value;          //  what the element holds
    list_node_t node;   //  its place on the list
} s_item_t;

//  Writes the values on the list as "1,2,3" into out: first to last, or
//  last to first when backward.
static void s_values(const list_node_t *anchor, bool backward, char *out, size_t size)
{
    size_t n = 0;
    out[0] = '\0';
    for (list_node_t *p = backward ? list_last(anchor) : list_first(anchor); p && n < size;
         p = backward ? list_prev(anchor, p) : list_next(anchor, p))
        n += (size_t)snprintf(out + n, size - n, "%s%d", n ? "," : "",
                              list_entry(p, s_item_t, node)->value);
}

static void test_list_empty(void)
{
    list_node_t anchor;
    list_init(&anchor);
    CHECK(list_empty(&anchor));
    CHECK(list_first(&anchor) == NULL);
    CHECK(list_last(&anchor) == NULL);
    s_item_t a = {.value = 1};
    CHECK(!list_linked(&a.node));
    list_unlink(&a.node);   //  on no list: nothing happens
    CHECK(!list_linked(&a.node));
    CHECK(list_empty(&anchor));
}

static void test_list_push_and_walk(void)
{
    list_node_t anchor;
    list_init(&anchor);
    s_item_t items[4] = {{.value = 1}, {.value = 2}, {.value = 3}, {.value = 4}};
    list_push_back(&anchor, &items[1].node);
    list_push_back(&anchor, &items[2].node);
    list_push_front(&anchor, &items[0].node);
    list_insert_before(&items[2].node, &items[3].node);
    char text[64];
    s_values(&anchor, false, text, sizeof text);
    CHECK_STR(text, "1,2,4,3");
    s_values(&anchor, true, text, sizeof text);
    CHECK_STR(text, "3,4,2,1");
    CHECK(list_entry(list_first(&anchor), s_item_t, node) == &items[0]);
    CHECK(list_entry(list_last(&anchor), s_item_t, node) == &items[2]);
    CHECK(list_next(&anchor, &items[2].node) == NULL);
    CHECK(list_prev(&anchor, &items[0].node) == NULL);
    for (int i = 0; i < 4; i++)
        CHECK(list_linked(&items[i].node));
}

static void test_list_unlink(void)
{
    list_node_t anchor;
    list_init(&anchor);
    s_item_t items[3] = {{.value = 1}, {.value = 2}, {.value = 3}};
    for (int i = 0; i < 3; i++)
        list_push_back(&anchor, &items[i].node);
    char text[64];
    list_unlink(&items[1].node);   //  the middle
    CHECK(!list_linked(&items[1].node));
    s_values(&anchor, false, text, sizeof text);
    CHECK_STR(text, "1,3");
    list_unlink(&items[2].node);   //  the last
    s_values(&anchor, true, text, sizeof text);
    CHECK_STR(text, "1");
    list_push_front(&anchor, &items[1].node);   //  unlinked: may go on again
    s_values(&anchor, false, text, sizeof text);
    CHECK_STR(text, "2,1");
    list_unlink(&items[1].node);   //  the first
    list_unlink(&items[0].node);   //  the only one
    CHECK(list_empty(&anchor));
    CHECK(list_first(&anchor) == NULL);
}

//  Unlinking while walking: take the next node first.
static void test_list_unlink_while_walking(void)
{
    list_node_t anchor;
    list_init(&anchor);
    s_item_t items[6];
    for (int i = 0; i < 6; i++) {
        items[i] = (s_item_t){.value = i};
        list_push_back(&anchor, &items[i].node);
    }
    for (list_node_t *p = list_first(&anchor), *next; p; p = next) {
        next = list_next(&anchor, p);
        if (list_entry(p, s_item_t, node)->value % 2 == 0)
            list_unlink(p);
    }
    char text[64];
    s_values(&anchor, false, text, sizeof text);
    CHECK_STR(text, "1,3,5");
}

int main(void)
{
    RUN(test_list_empty);
    RUN(test_list_push_and_walk);
    RUN(test_list_unlink);
    RUN(test_list_unlink_while_walking);
    return TEST_REPORT("test_list");
}
