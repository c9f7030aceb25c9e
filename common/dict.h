/*  dict.h: a string dictionary that gives each distinct string a code.

    The level builder behind string columns: the CSV loader, table_add_strings
    and table_decode feed it one cell at a time and it answers with the cell's
    code (0, 1, 2 ... in order of first appearance). Open addressing with
    linear probing over a power-of-two slot array, so a million distinct
    strings cost a million hashes, never a quadratic scan.

    Caveats:
    - Strings are copied and NUL-terminated; a string with an embedded NUL is
      stored whole but reads back cut at the NUL (the callers refuse those).
*/
#ifndef MLOPS_DICT_H
#define MLOPS_DICT_H

#include <stddef.h>
#include <stdint.h>

#define DICT_MAX_LEVELS 0xfffffff0u //  codes are uint32; refuse more levels

typedef struct dict_t dict_t;

//  Creates an empty dictionary sized for about hint strings. NULL on ENOMEM.
dict_t *dict_new(size_t hint);

//  Frees the dictionary and the strings it still owns; ignores NULL; sets *p
//  to NULL.
void dict_destroy(dict_t **p);

//  Writes the code of the len bytes at s into *code, adding them as a new
//  level when unseen. Returns 0, MLOPS_ENOMEM, or MLOPS_ETOOBIG past
//  DICT_MAX_LEVELS levels.
int dict_intern(dict_t *self, const char *s, size_t len, uint32_t *code);

//  Returns the number of distinct strings.
size_t dict_size(const dict_t *self);

//  Returns the string of a code, borrowed while the dictionary owns it.
const char *dict_string(const dict_t *self, uint32_t code);

//  Hands the level array (dict_size() strings, in code order) to the caller,
//  who frees each string and the array. The dictionary is left empty.
//  Returns NULL when the dictionary is empty.
char **dict_take_levels(dict_t *self);

#endif
