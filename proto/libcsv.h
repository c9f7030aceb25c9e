/*  libcsv.h: reaches libcsv's <csv.h>, which our proto/csv.h shadows.

    proto/ is first on the include path, so both "csv.h" and <csv.h> find
    our loader's header. Included as <libcsv.h> this file is found through
    -Iproto, and #include_next then resumes the search after proto/, where
    the system's libcsv header is. Only proto/csv.c includes it.
*/
#ifndef MLOPS_LIBCSV_H
#define MLOPS_LIBCSV_H

#include_next <csv.h>

#endif
