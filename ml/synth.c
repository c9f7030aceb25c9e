/*  synth.c: see synth.h.

    One passenger per row, drawn in dependency order: class, sex, title
    (by class and sex), age (by title and class), port, whether the age is
    recorded (by class and port), family (by title and class), fare (by
    class and family), cabin (by class), ticket (by class), name (by sex
    and title), then survival from a logistic model on those. The
    proportions are read off the real 891 rows (see the tables below); the
    survival model's coefficients were set by hand so that the rates by sex
    and class come out near the real ones (female 74 %, male 19 %; class
    1/2/3 63/47/24 %) and the overall rate near 38 %.

    Columns are filled in place (doubles and dictionary codes) and handed
    to the table with table_adopt_column, so the only allocation per row
    is a new level the first time a name, ticket or cabin string is drawn.
*/
#include "synth.h"

#include "dict.h"
#include "progress.h"
#include "rng.h"
#include "table_spill.h"
#include "table_stream.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SYNTH_NAME_POOL 32768    //  distinct name ids per sex
#define SYNTH_STR_MAX 160        //  longest generated string

//  ---------------------------------------------------------------------------
//  Random numbers: rng.h's stream 0 of the seed (integer arithmetic, so
//  the same tables on every machine; pinned in tests/test_synth.c).

//  Uniform integer in [lo, hi].
static int s_between(rng_t *r, int lo, int hi)
{
    return lo + (int)rng_below32(r, (uint32_t)(hi - lo + 1));
}

//  Standard normal, approximately: the sum of 12 uniforms minus 6 (plain
//  arithmetic, so the same on every machine; tails end at +-6).
static double s_normal(rng_t *r)
{
    double sum = 0;
    for (int i = 0; i < 12; i++)
        sum += rng_unit(r);
    return sum - 6;
}

//  Index drawn from weights summing to about 1 (the last takes the rest).
static int s_pick(rng_t *r, const double *w, int n)
{
    double u = rng_unit(r);
    for (int i = 0; i < n - 1; i++) {
        if (u < w[i])
            return i;
        u -= w[i];
    }
    return n - 1;
}

static double s_clip(double x, double lo, double hi)
{
    return x < lo ? lo : x > hi ? hi : x;
}

//  ---------------------------------------------------------------------------
//  Pools and proportions

typedef enum {
    T_MR, T_MASTER, T_DR, T_REV, T_MAJOR, T_COL, T_CAPT, T_SIR, T_DON, T_JONKHEER,
    T_MISS, T_MRS, T_MLLE, T_MME, T_MS, T_LADY, T_COUNTESS, T_DR_F, T_COUNT
} s_title_t;

static const char *const s_title_names[T_COUNT] = {
    "Mr", "Master", "Dr", "Rev", "Major", "Col", "Capt", "Sir", "Don", "Jonkheer",
    "Miss", "Mrs", "Mlle", "Mme", "Ms", "Lady", "the Countess", "Dr"};

//  Title weights by class, per sex (index = title - first title of the sex).
static const double s_male_titles[3][10] = {
    {.905, .025, .02, 0, .012, .012, .006, .006, .006, .008},
    {.855, .08, .01, .055, 0, 0, 0, 0, 0, 0},
    {.92, .08, 0, 0, 0, 0, 0, 0, 0, 0}};
static const double s_female_titles[3][8] = {
    {.47, .47, .02, .01, 0, .01, .01, .01},
    {.42, .56, .01, 0, .01, 0, 0, 0},
    {.70, .29, 0, 0, .01, 0, 0, 0}};

static const char *const s_last[] = {
    "Braund", "Cumings", "Heikkinen", "Futrelle", "Allen", "Moran", "McCarthy", "Palsson",
    "Johnson", "Nasser", "Sandstrom", "Bonnell", "Saundercock", "Andersson", "Vestrom",
    "Hewlett", "Rice", "Williams", "Vander Planke", "Masselmani", "Fynney", "Beesley",
    "McGowan", "Sloper", "Asplund", "Emir", "Fortune", "O'Dwyer", "Todoroff", "Uruchurtu",
    "Spencer", "Glynn", "Wheadon", "Meyer", "Holverson", "Mamee", "Cann", "Nicola-Yarred",
    "Ahlin", "Turpin", "Kraeff", "Laroche", "Devaney", "Rogers", "Lennon", "O'Driscoll",
    "Samaan", "Arnold-Franchi", "Panula", "Nosworthy", "Harper", "Faunthorpe", "Ostby",
    "Woolner", "Rugg", "Novel", "West", "Goodwin", "Sirayanian", "Icard", "Harris", "Skoog",
    "Stewart", "Moubarek", "Nye", "Crease", "Kink", "Jenkin", "Hood", "Chronopoulos", "Bing",
    "Moen", "Staneff", "Moutal", "Caldwell", "Dowdell", "Waelens", "Sheerlinck", "McDermott",
    "Carrau", "Ilett", "Backstrom", "Ford", "Slocovski", "Celotti", "Christmann",
    "Andreasson", "Chaffee", "Dean", "Coxon", "Shorney", "Goldschmidt", "Greenfield",
    "Doling", "Kantor", "Petranec", "Petroff", "White", "Johansson", "Gustafsson", "Mionoff",
    "Salkjelsvik", "Moss", "Rekic", "Porter", "Zabour", "Barton", "Jussila", "Attalah",
    "Pekoniemi", "Connors", "Baxter", "Hickman", "Moore", "Webber", "Peter", "Hocking",
    "Hassab", "Keane", "Minahan", "Hold", "Graham", "Pears", "Becker", "Kelly", "Smith",
    "Brown", "Taylor"};
static const char *const s_male_first[] = {
    "Owen", "John", "William", "James", "Thomas", "Charles", "George", "Henry", "Edward",
    "Frederick", "Arthur", "Albert", "Joseph", "Richard", "Robert", "Ernest", "Alfred",
    "Harry", "Walter", "Samuel", "Patrick", "Michael", "Daniel", "David", "Karl", "Johan",
    "Nils", "Anders", "Erik", "Olof", "Hans", "Victor", "Leo", "Stephen", "Francis", "Edgar",
    "Herbert", "Percival", "Harold", "Jacques", "Pierre", "Carl", "Lewis", "Benjamin",
    "Jeremiah", "Timothy", "Denis", "Hugh", "Austin", "Ivan", "Peter", "Elias", "Ali",
    "Youssef", "Mauritz", "Lalio", "Emil", "Juha", "Eino", "Ernst", "Frank", "Leonard",
    "Sidney", "Gosta"};
static const char *const s_female_first[] = {
    "Florence", "Laina", "Lily", "Elisabeth", "Mary", "Margaret", "Anna", "Helen", "Alice",
    "Edith", "Ellen", "Emily", "Elizabeth", "Kate", "Catherine", "Bridget", "Annie", "Ada",
    "Agnes", "Amy", "Bertha", "Clara", "Dorothy", "Elsie", "Emma", "Eva", "Ethel",
    "Gertrude", "Grace", "Hilda", "Ida", "Jane", "Julia", "Lucy", "Maria", "Marie", "Martha",
    "Mathilde", "Nora", "Olga", "Rosa", "Ruth", "Sarah", "Selma", "Sigrid", "Susan",
    "Augusta", "Ebba", "Hanna", "Ingeborg", "Karolina", "Eleanor", "Marion", "Constance",
    "Madeleine", "Charlotte", "Louise", "Jessie", "Violet", "Winnifred", "Hedwig", "Amelia",
    "Beatrice", "Mabel"};

#define N_LAST (sizeof s_last / sizeof *s_last)
#define N_MALE_FIRST (sizeof s_male_first / sizeof *s_male_first)
#define N_FEMALE_FIRST (sizeof s_female_first / sizeof *s_female_first)

static const double s_class_w[3] = {.242, .207, .551};
static const double s_male_p[3] = {.565, .598, .707};
static const double s_port_w[3][3] = {{.59, .39, .02}, {.89, .09, .02}, {.72, .14, .14}};
static const char *const s_ports[3] = {"S", "C", "Q"};
static const double s_age_missing_p[3] = {.14, .06, .24};
static const double s_cabin_p[3] = {.81, .08, .025};
static const double s_deck_w[3][7] = { //  A B C D E F G (T is the rest of class 1)
    {.12, .27, .34, .14, .12, 0, 0}, {0, 0, 0, .25, .25, .5, 0}, {0, 0, 0, 0, .2, .4, .4}};
static const int s_deck_hi[7] = {36, 102, 148, 56, 121, 73, 73};
static const double s_fare3[] = {7.05, 7.225, 7.2292, 7.25, 7.75, 7.775, 7.8542, 7.8792,
                                 7.8958, 7.925, 8.05, 8.05, 8.05, 8.6625, 9.5};
static const double s_fare2[] = {10.5, 10.5, 11.5, 12.35, 13, 13, 13, 13, 15.0458, 26};

//  ---------------------------------------------------------------------------
//  One passenger

typedef struct {
    int pclass;        //  1, 2, 3
    int male;          //  1 male, 0 female
    s_title_t title;   //  from the name
    double age;        //  true age, years
    int age_missing;   //  age not recorded
    int port;          //  0 S, 1 C, 2 Q, -1 not recorded
    int sibsp, parch;  //  siblings/spouses, parents/children aboard
    double fare;       //  ticket price
    int survived;      //  0 or 1
} s_passenger_t;

static int s_is_child(const s_passenger_t *p)
{
    return p->title == T_MASTER || (p->title == T_MISS && p->age < 15);
}

static double s_whole_or_infant(rng_t *r, int lo, int hi)
{
    if (rng_unit(r) < .1) //  under a year: months, as the real file writes them
        return round(s_between(r, 5, 11) / 12.0 * 100) / 100;
    return s_between(r, lo, hi);
}

//  Adult age: normal, clipped, whole years with a few "x.5" estimates.
static double s_adult_age(rng_t *r, double mean, double sd, double lo, double hi)
{
    double a = floor(s_clip(mean + sd * s_normal(r), lo, hi));
    return rng_unit(r) < .04 ? a + .5 : a;
}

static void s_draw_age(rng_t *r, s_passenger_t *p)
{
    int c = p->pclass - 1;
    static const double mr_mean[3] = {41, 33, 28}, mr_sd[3] = {13, 11, 10};
    static const double mrs_mean[3] = {40, 33, 32}, miss_mean[3] = {30, 26, 23};
    static const double child_p[3] = {.12, .3, .4};
    switch (p->title) {
    case T_MASTER: p->age = s_whole_or_infant(r, 1, 12); break;
    case T_MISS:
        p->age = rng_unit(r) < child_p[c] ? s_whole_or_infant(r, 1, 14)
                                        : s_adult_age(r, miss_mean[c], 7, 15, 63);
        break;
    case T_MRS: p->age = s_adult_age(r, mrs_mean[c], 10, 14, 63); break;
    case T_MR: p->age = s_adult_age(r, mr_mean[c], mr_sd[c], 11, 80); break;
    case T_MLLE: case T_MME: case T_MS: p->age = s_adult_age(r, 26, 3, 18, 40); break;
    case T_LADY: case T_COUNTESS: p->age = s_adult_age(r, 40, 8, 25, 60); break;
    default: p->age = s_adult_age(r, 48, 10, 23, 70); break;
    }
}

static void s_draw_family(rng_t *r, s_passenger_t *p)
{
    static const double kids_sib[3] = {.35, .5, .15}, mrs_parch[4] = {.45, .25, .2, .1};
    static const double adult_sib[3] = {.35, .55, .1}, adult_parch[3] = {.6, .25, .15};
    static const double alone_p[3] = {.65, .78, .8};
    int c3 = p->pclass == 3;
    p->sibsp = p->parch = 0;
    if (s_is_child(p)) {
        p->parch = rng_unit(r) < .05 ? 0 : 1 + (rng_unit(r) < .6);
        double u = rng_unit(r);
        p->sibsp = c3 && u < .03 ? 8 : c3 && u < .5 ? s_between(r, 3, 5) : s_pick(r, kids_sib, 3);
    } else if (p->title == T_MRS) {
        p->sibsp = rng_unit(r) < .8;
        p->parch = s_pick(r, mrs_parch, 4);
        if (p->parch == 3)
            p->parch = c3 ? s_between(r, 3, 6) : 2;
    } else if (rng_unit(r) >= (p->male ? alone_p[p->pclass - 1] : .6)) {
        p->sibsp = s_pick(r, adult_sib, 3);
        if (p->sibsp == 2)
            p->sibsp = s_between(r, 2, 4);
        p->parch = s_pick(r, adult_parch, 3);
    }
}

static void s_draw_fare(rng_t *r, s_passenger_t *p)
{
    int fs = p->sibsp + p->parch + 1;
    double share = fs == 1 ? 1 : pow(fs, .8);
    double f;
    if (p->male && !s_is_child(p) && rng_unit(r) < .025) {
        f = 0; //  crew-like free passes: all men in the real file
    } else if (p->pclass == 1) {
        f = s_clip(exp(log(46) + .55 * s_normal(r)) * share, 5, 512.3292);
    } else if (p->pclass == 2) {
        f = fs == 1 ? s_fare2[rng_below32(r, sizeof s_fare2 / sizeof *s_fare2)]
                    : exp(log(13) + .25 * s_normal(r)) * share;
    } else {
        f = fs == 1 ? s_fare3[rng_below32(r, sizeof s_fare3 / sizeof *s_fare3)]
                    : exp(log(7.5) + .15 * s_normal(r)) * share;
    }
    p->fare = round(f * 10000) / 10000;
}

//  The survival model: log-odds by sex group and class, then adjustments.
static void s_draw_survival(rng_t *r, s_passenger_t *p)
{
    static const double woman[3] = {3.3, 2.4, 0}, boy[3] = {2.5, 2.5, -.3};
    static const double man[3] = {-.6, -2.1, -2.15};
    int c = p->pclass - 1;
    int fs = p->sibsp + p->parch + 1;
    double z = !p->male ? woman[c] : s_is_child(p) ? boy[c] : man[c];
    if (p->male && !s_is_child(p))
        z -= .02 * (p->age - 30);
    if (p->title == T_REV)
        z -= 2;
    if (fs >= 2 && fs <= 4)
        z += .4;
    else if (fs >= 5)
        z -= 1.8;
    if (p->port == 1)
        z += .3;
    p->survived = rng_unit(r) < 1 / (1 + exp(-z));
}

static void s_draw(rng_t *r, s_passenger_t *p)
{
    p->pclass = 1 + s_pick(r, s_class_w, 3);
    int c = p->pclass - 1;
    p->male = rng_unit(r) < s_male_p[c];
    p->title = p->male ? (s_title_t)s_pick(r, s_male_titles[c], 10)
                       : (s_title_t)(T_MISS + s_pick(r, s_female_titles[c], 8));
    s_draw_age(r, p);
    p->port = p->pclass == 1 && rng_unit(r) < .009 ? -1 : s_pick(r, s_port_w[c], 3);
    p->age_missing = rng_unit(r) < (p->port == 2 ? .6 : s_age_missing_p[c]);
    s_draw_family(r, p);
    s_draw_fare(r, p);
    s_draw_survival(r, p);
}

//  ---------------------------------------------------------------------------
//  Strings

//  "Last, Title. First Middle" or, for a wife, "Last, Mrs. Husband (First
//  Maiden)". The name id fixes every part, so names stay in a bounded pool.
static void s_format_name(const s_passenger_t *p, uint32_t name_id, char *out)
{
    uint64_t id = name_id;
    uint64_t h = rng_splitmix(&id);
    const char *last = s_last[h % N_LAST];
    const char *title = s_title_names[p->title];
    const char *const *firsts = p->male ? s_male_first : s_female_first;
    size_t n_first = p->male ? N_MALE_FIRST : N_FEMALE_FIRST;
    const char *first = firsts[(h >> 8) % n_first];
    const char *middle = firsts[(h >> 16) % n_first];
    int has_middle = (h >> 24) % 3 == 0;
    if (p->title == T_MRS)
        snprintf(out, SYNTH_STR_MAX, "%s, Mrs. %s %s (%s %s)", last,
                 s_male_first[(h >> 32) % N_MALE_FIRST], s_male_first[(h >> 40) % N_MALE_FIRST],
                 first, s_last[(h >> 48) % N_LAST]);
    else if (has_middle)
        snprintf(out, SYNTH_STR_MAX, "%s, %s. %s %s", last, title, first, middle);
    else
        snprintf(out, SYNTH_STR_MAX, "%s, %s. %s", last, title, first);
}

//  Ticket shapes by class, from the real file: a prefix and a number
//  base + step * (n % mod) for n drawn below 1000, so the pool is bounded.
typedef struct {
    double weight;   //  share of the class's tickets
    const char *fmt; //  printf format with one %d
    int base, step, mod;
} s_ticket_t;

static const s_ticket_t s_tickets[3][6] = {
    {{.40, "PC %d", 17000, 1, 800}, {.45, "11%04d", 3000, 1, 1000},
     {.10, "1%04d", 7000, 3, 1000}, {.05, "WE/P %d", 5700, 1, 100}},
    {{.60, "2%05d", 30000, 19, 1000}, {.15, "C.A. %d", 24000, 11, 1000},
     {.10, "SC/PARIS %d", 2100, 1, 100}, {.10, "S.O.C. %d", 14800, 1, 100},
     {.05, "F.C.C. %d", 13500, 1, 60}},
    {{.55, "3%05d", 30000, 70, 1000}, {.15, "26%02d", 0, 1, 100},
     {.10, "A/5 %d", 21000, 1, 200}, {.08, "STON/O2. %d", 3101270, 1, 40},
     {.07, "SOTON/OQ %d", 392070, 1, 40}, {.05, "C.A. %d", 2300, 1, 60}}};

#define SYNTH_TICKET_IDS (3 * 6 * 1000) //  class, shape, number

//  Draws a ticket id: class, shape and number in one index.
static uint32_t s_draw_ticket(rng_t *r, int pclass)
{
    const s_ticket_t *shapes = s_tickets[pclass - 1];
    double w[6];
    int n_shapes = 0; //  the shapes in use; the last takes any rounding rest
    for (; n_shapes < 6 && shapes[n_shapes].fmt; n_shapes++)
        w[n_shapes] = shapes[n_shapes].weight;
    uint32_t shape = (uint32_t)s_pick(r, w, n_shapes);
    return ((uint32_t)(pclass - 1) * 6 + shape) * 1000 + rng_below32(r, 1000);
}

static void s_format_ticket(uint32_t ticket_id, char *out)
{
    const s_ticket_t *t = &s_tickets[ticket_id / 6000][ticket_id / 1000 % 6];
    int n = (int)(ticket_id % 1000);
    snprintf(out, SYNTH_STR_MAX, t->fmt, t->base + t->step * (n % t->mod));
}

//  Returns 0 and writes a cabin ("C85", "C23 C25 C27", "F G73"), or returns
//  -1 when the passenger has none on record.
static int s_format_cabin(rng_t *r, int pclass, char *out)
{
    int c = pclass - 1;
    if (rng_unit(r) >= s_cabin_p[c])
        return -1;
    double rest = 1;
    for (int d = 0; d < 7; d++)
        rest -= s_deck_w[c][d];
    if (c == 0 && rng_unit(r) < rest) {
        strcpy(out, "T");
        return 0;
    }
    int deck = s_pick(r, s_deck_w[c], 7);
    int num = s_between(r, 2, s_deck_hi[deck]);
    if (c == 0 && rng_unit(r) < .05) {
        int k = 2 + (int)rng_below32(r, 2);
        int len = 0;
        for (int i = 0; i < k; i++)
            len += snprintf(out + len, (size_t)(SYNTH_STR_MAX - len), "%s%c%d", i ? " " : "",
                            'A' + deck, num + 2 * i);
    } else if (c == 2 && deck >= 5 && rng_unit(r) < .25) {
        snprintf(out, SYNTH_STR_MAX, "F %c%d", 'A' + deck, num);
    } else {
        snprintf(out, SYNTH_STR_MAX, "%c%d", 'A' + deck, num);
    }
    return 0;
}

//  ---------------------------------------------------------------------------
//  The table

enum { C_ID, C_SURVIVED, C_PCLASS, C_NAME, C_SEX, C_AGE, C_SIBSP, C_PARCH, C_TICKET, C_FARE,
       C_CABIN, C_EMBARKED, C_COUNT };

static const char *const s_col_names[C_COUNT] = {
    "PassengerId", "Survived", "Pclass", "Name", "Sex", "Age", "SibSp", "Parch", "Ticket",
    "Fare", "Cabin", "Embarked"};
static const table_kind_t s_col_kinds[C_COUNT] = {
    TABLE_NUMBER, TABLE_NUMBER, TABLE_NUMBER, TABLE_TEXT, TABLE_CATEGORY, TABLE_NUMBER,
    TABLE_NUMBER, TABLE_NUMBER, TABLE_TEXT, TABLE_NUMBER, TABLE_TEXT, TABLE_CATEGORY};

typedef struct {
    table_col_t cols[C_COUNT]; //  being filled
    dict_t *dicts[C_COUNT];    //  levels of the string columns
    uint32_t *name_codes;      //  by title and name id: the Name code + 1, 0 until drawn
    uint32_t *ticket_codes;    //  by ticket id: the Ticket code + 1, 0 until drawn
} s_build_t;

#define SYNTH_NAME_KEYS ((size_t)T_COUNT * 2 * SYNTH_NAME_POOL)

static void s_build_free(s_build_t *b)
{
    for (int c = 0; c < C_COUNT; c++) {
        free(b->cols[c].name);
        free(b->cols[c].missing);
        free(b->cols[c].num);
        free(b->cols[c].codes);
        dict_destroy(&b->dicts[c]);
    }
    free(b->name_codes);
    free(b->ticket_codes);
}

static int s_build_alloc(s_build_t *b, size_t rows)
{
    memset(b, 0, sizeof *b);
    b->name_codes = calloc(SYNTH_NAME_KEYS, sizeof *b->name_codes);
    b->ticket_codes = calloc(SYNTH_TICKET_IDS, sizeof *b->ticket_codes);
    if (!b->name_codes || !b->ticket_codes)
        return MLOPS_ENOMEM;
    for (int c = 0; c < C_COUNT; c++) {
        table_col_t *col = &b->cols[c];
        col->kind = s_col_kinds[c];
        col->name = strdup(s_col_names[c]);
        col->missing = calloc(rows, 1);
        if (!col->name || !col->missing)
            return MLOPS_ENOMEM;
        if (col->kind == TABLE_NUMBER) {
            if (!(col->num = malloc(rows * sizeof *col->num)))
                return MLOPS_ENOMEM;
        } else if (!(col->codes = calloc(rows, sizeof *col->codes))
                   || !(b->dicts[c] = dict_new(64))) {
            return MLOPS_ENOMEM;
        }
    }
    return 0;
}

//  Writes a string cell (NULL = missing).
static int s_put_str(s_build_t *b, int c, size_t row, const char *s)
{
    if (!s) {
        b->cols[c].missing[row] = 1;
        return 0;
    }
    return dict_intern(b->dicts[c], s, strlen(s), &b->cols[c].codes[row]);
}

//  Writes the cell of a pooled string whose code, once known, is kept in
//  *known (code + 1): the string is formatted and looked up only the first
//  time, which spares a printf and two cache misses per row.
static int s_put_pooled(s_build_t *b, int c, size_t row, uint32_t *known,
                        const s_passenger_t *p, uint32_t id)
{
    if (*known) {
        b->cols[c].codes[row] = *known - 1;
        return 0;
    }
    char s[SYNTH_STR_MAX];
    if (c == C_NAME)
        s_format_name(p, id, s);
    else
        s_format_ticket(id, s);
    int rc = s_put_str(b, c, row, s);
    *known = b->cols[c].codes[row] + 1;
    return rc;
}

//  Draws passenger row (0-based) into the build's buffer at index i.
static int s_fill_row(s_build_t *b, rng_t *r, size_t row, size_t i)
{
    s_passenger_t p;
    char cabin[SYNTH_STR_MAX];
    s_draw(r, &p);
    uint32_t name_id = rng_below32(r, SYNTH_NAME_POOL) + (p.male ? 0 : SYNTH_NAME_POOL);
    uint32_t ticket_id = s_draw_ticket(r, p.pclass);
    int has_cabin = s_format_cabin(r, p.pclass, cabin) == 0;
    b->cols[C_ID].num[i] = (double)(row + 1);
    b->cols[C_SURVIVED].num[i] = p.survived;
    b->cols[C_PCLASS].num[i] = p.pclass;
    b->cols[C_AGE].num[i] = p.age_missing ? NAN : p.age;
    b->cols[C_AGE].missing[i] = (uint8_t)p.age_missing;
    b->cols[C_SIBSP].num[i] = p.sibsp;
    b->cols[C_PARCH].num[i] = p.parch;
    b->cols[C_FARE].num[i] = p.fare;
    uint32_t *name_known = &b->name_codes[(size_t)p.title * 2 * SYNTH_NAME_POOL + name_id];
    int rc = s_put_pooled(b, C_NAME, i, name_known, &p, name_id);
    rc = rc ? rc : s_put_str(b, C_SEX, i, p.male ? "male" : "female");
    rc = rc ? rc : s_put_pooled(b, C_TICKET, i, &b->ticket_codes[ticket_id], &p, ticket_id);
    rc = rc ? rc : s_put_str(b, C_CABIN, i, has_cabin ? cabin : NULL);
    rc = rc ? rc : s_put_str(b, C_EMBARKED, i, p.port < 0 ? NULL : s_ports[p.port]);
    return rc;
}

//  0, or MLOPS_EINVAL with err when rows is outside the spec's range.
static int s_check_rows(size_t rows, mlops_err_t *err)
{
    mlops_err_clear(err);
    if (rows < SYNTH_MIN_ROWS || rows > SYNTH_MAX_ROWS)
        return mlops_err_set(err, MLOPS_EINVAL, "synthetic: %zu rows outside %d..%d", rows,
                             SYNTH_MIN_ROWS, SYNTH_MAX_ROWS);
    return 0;
}

table_t *synth_generate(size_t rows, uint64_t seed, mlops_err_t *err)
{
    if (s_check_rows(rows, err))
        return NULL;
    rng_t rng;
    rng_seed(&rng, seed, 0);
    s_build_t b;
    table_t *t = NULL;
    int rc = s_build_alloc(&b, rows);
    for (size_t row = 0; row < rows && rc == 0; row++)
        rc = s_fill_row(&b, &rng, row, row);
    if (rc == 0 && !(t = table_new(rows)))
        rc = MLOPS_ENOMEM;
    for (int c = 0; c < C_COUNT && rc == 0; c++) {
        if (b.dicts[c]) {
            b.cols[c].n_levels = dict_size(b.dicts[c]);
            b.cols[c].levels = dict_take_levels(b.dicts[c]);
        }
        rc = table_adopt_column(t, &b.cols[c]);
    }
    s_build_free(&b);
    if (rc != 0) {
        table_destroy(&t);
        mlops_err_set(err, rc, "synthetic: %s", mlops_strerror(rc));
    }
    return t;
}

//  ---------------------------------------------------------------------------
//  The table, streamed

//  The k rows of the build's buffer into the spill's (table_spill.h).
static void s_to_spill(const s_build_t *b, table_spill_t *sp, size_t k)
{
    for (int c = 0; c < C_COUNT; c++) {
        const table_col_t *col = &b->cols[c];
        uint8_t *missing = table_spill_missing(sp, (size_t)c), *cells = table_spill_cells(sp, (size_t)c);
        memcpy(missing, col->missing, k);
        for (size_t i = 0; i < k; i++)
            if (col->kind == TABLE_NUMBER)
                table_stream_number(cells + 8 * i, col->num[i], col->missing[i]);
            else
                table_stream_code(cells + 4 * i, col->codes[i], col->missing[i]);
    }
}

//  Draws every row into the spill, a chunk at a time; 0 or an error code
//  with err (MLOPS_ENOMEM, errno, MLOPS_ECANCELED).
static int s_stream_rows(s_build_t *b, table_spill_t *sp, size_t rows, uint64_t seed,
                         mlops_err_t *err)
{
    rng_t rng;
    rng_seed(&rng, seed, 0);
    size_t chunk = table_spill_buf_rows(sp);
    int rc = 0;
    for (size_t row = 0; row < rows && rc == 0;) {
        size_t k = rows - row < chunk ? rows - row : chunk;
        for (int c = 0; c < C_COUNT; c++)
            memset(b->cols[c].missing, 0, k);
        for (size_t i = 0; i < k && rc == 0; i++)
            rc = s_fill_row(b, &rng, row + i, i);
        if (rc)
            return mlops_err_set(err, rc, "synthetic: %s", mlops_strerror(rc));
        s_to_spill(b, sp, k);
        rc = table_spill_flush(sp, k, err);
        row += k;
        progress_report((int64_t)row, (int64_t)rows, "rows");
        if (rc == 0 && progress_cancelled())   //  the task was cancelled (progress.h)
            rc = mlops_err_set(err, MLOPS_ECANCELED, "synthetic: cancelled after %zu rows", row);
    }
    return rc;
}

//  The spill's encoding to out_fd, each string column's levels taken from
//  its dict.
static int s_stream_write(s_build_t *b, table_spill_t *sp, int out_fd, mlops_err_t *err)
{
    char **levels[C_COUNT] = {0};
    size_t n_levels[C_COUNT] = {0};
    for (int c = 0; c < C_COUNT; c++)
        if (b->dicts[c]) {
            n_levels[c] = dict_size(b->dicts[c]);
            levels[c] = dict_take_levels(b->dicts[c]);
        }
    int rc = table_spill_write(sp, out_fd, s_col_names, (char *const *const *)levels, n_levels, err);
    for (int c = 0; c < C_COUNT; c++) {
        for (size_t l = 0; levels[c] && l < n_levels[c]; l++)
            free(levels[c][l]);
        free(levels[c]);
    }
    return rc;
}

int synth_stream(size_t rows, uint64_t seed, int out_fd, size_t chunk_bytes, mlops_err_t *err)
{
    if (s_check_rows(rows, err))
        return err->code;
    table_spill_t *sp = table_spill_new(rows, C_COUNT, s_col_kinds,
                                        chunk_bytes ? chunk_bytes : SYNTH_CHUNK_BYTES, err);
    if (!sp)
        return err->code;
    s_build_t b;
    int rc = s_build_alloc(&b, table_spill_buf_rows(sp));
    if (rc)
        mlops_err_set(err, rc, "synthetic: %s", mlops_strerror(rc));
    if (rc == 0)
        rc = s_stream_rows(&b, sp, rows, seed, err);
    if (rc == 0)
        rc = s_stream_write(&b, sp, out_fd, err);
    s_build_free(&b);
    table_spill_destroy(&sp);
    return rc;
}

//  ---------------------------------------------------------------------------
//  The source spec

int synth_parse_spec(const char *spec, size_t *rows, uint64_t *seed, mlops_err_t *err)
{
    assert(spec && rows && seed);
    source_t src;
    int rc = source_parse(spec, &src, err);
    if (src.kind != SOURCE_SYNTHETIC)
        return mlops_err_set(err, MLOPS_EINVAL, "not a synthetic source (synthetic[:ROWS[:SEED]])");
    if (rc)
        return rc;
    *rows = src.rows;
    *seed = src.seed;
    return 0;
}
