/*
 * Unit tests for the parsing metrics (lw_eval_score) and the CSV reader of eval_parse.h. The
 * metric cases are small enough to compute by hand; the arithmetic is in the comments.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "eval/eval_parse.h"
#include "lw/lw_err.h"

#define EPS 1e-9

/*
 * 6 lines, 3 truth templates A = "open <*>", B = "close <*>", C = "read <*> bytes".
 *
 *   line  truth  predicted
 *   1     A      "open <*>"
 *   2     A      "open <*>"
 *   3     B      "close <*>"
 *   4     B      "close 5"
 *   5     C      "<*> <*> bytes"
 *   6     C      "<*> <*> bytes"
 *
 * GA:  A -> one predicted template that has exactly A's 2 lines: correct. B is split over two
 *      predicted templates: wrong. C -> one predicted template with exactly its 2 lines:
 *      correct. GA = 4/6. Correct groups 2; predicted templates 4, truth templates 3:
 *      PGA = 2/4, RGA = 2/3, FGA = 2 * (1/2 * 2/3) / (1/2 + 2/3) = 4/7.
 * PA:  lines 1, 2, 3 have the truth text: 3/6.
 * FTA: "open <*>" -> truths {A}, same text: correct. "close <*>" -> truths {B}, same text:
 *      correct (the Loghub-2.0 evaluator does not ask that B's other line be in it).
 *      "close 5" -> {B}, other text: wrong. "<*> <*> bytes" -> {C}, other text: wrong.
 *      PTA = 2/4, RTA = 2/3, FTA = 4/7.
 */
static void test_hand_case(void **state)
{
    const char *truth[] = {"open <*>",       "open <*>",      "close <*>",
                           "close <*>",      "read <*> bytes", "read <*> bytes"};
    const char *pred[] = {"open <*>", "open <*>",      "close <*>",
                          "close 5",  "<*> <*> bytes", "<*> <*> bytes"};
    unsigned char ok[6];
    struct lw_eval_scores s;

    (void)state;
    assert_int_equal(lw_eval_score(6, pred, truth, &s, ok), LW_OK);
    assert_true(s.ga > 4.0 / 6 - EPS && s.ga < 4.0 / 6 + EPS);
    assert_true(s.pga > 0.5 - EPS && s.pga < 0.5 + EPS);
    assert_true(s.rga > 2.0 / 3 - EPS && s.rga < 2.0 / 3 + EPS);
    assert_true(s.fga > 4.0 / 7 - EPS && s.fga < 4.0 / 7 + EPS);
    assert_true(s.pa > 0.5 - EPS && s.pa < 0.5 + EPS);
    assert_true(s.fta > 4.0 / 7 - EPS && s.fta < 4.0 / 7 + EPS);
    assert_int_equal(s.n_pred_templates, 4);
    assert_int_equal(s.n_truth_templates, 3);
    assert_int_equal(s.n_ga_lines, 4);
    assert_int_equal(s.n_ga_groups, 2);
    assert_int_equal(s.n_ta_templates, 2);
    assert_int_equal(ok[0], 1);
    assert_int_equal(ok[1], 1);
    assert_int_equal(ok[2], 0);
    assert_int_equal(ok[3], 0);
    assert_int_equal(ok[4], 1);
    assert_int_equal(ok[5], 1);
}

/*
 * Over-generalisation: one predicted template "<*>" for two truth groups of 2 lines each.
 * GA: each truth group maps to "<*>", which also has the other group's lines: 0/4. PGA = 0/1,
 * RGA = 0/2, FGA = 0. PA = 0/4. FTA: "<*>" -> truths {A, B}: wrong, 0.
 */
static void test_merged(void **state)
{
    const char *truth[] = {"a <*>", "a <*>", "b <*>", "b <*>"};
    const char *pred[] = {"<*>", "<*>", "<*>", "<*>"};
    struct lw_eval_scores s;

    (void)state;
    assert_int_equal(lw_eval_score(4, pred, truth, &s, NULL), LW_OK);
    assert_true(s.ga < EPS && s.fga < EPS && s.pa < EPS && s.fta < EPS);
    assert_int_equal(s.n_pred_templates, 1);
    assert_int_equal(s.n_truth_templates, 2);
}

/* Everything right: all four figures are 1. */
static void test_perfect(void **state)
{
    const char *truth[] = {"x <*>", "y", "x <*>", "z <*> <*>", "y"};
    struct lw_eval_scores s;

    (void)state;
    assert_int_equal(lw_eval_score(5, truth, truth, &s, NULL), LW_OK);
    assert_true(s.ga > 1 - EPS && s.fga > 1 - EPS && s.pa > 1 - EPS && s.fta > 1 - EPS);
    assert_int_equal(s.n_truth_templates, 3);
}

/*
 * Lines without truth (an empty cell: NaN in pandas) leave GA, FGA and FTA but stay in PA's
 * denominator, where they count as wrong. Lines 1-2: truth "a", predicted "a"; line 3: no
 * truth, predicted "a" too (it must not spoil a's group); line 4: truth "b", predicted NULL
 * (read as ""). GA: a -> "a", which has exactly lines 1-2 among the scored lines: correct;
 * b -> "", only line 4: correct. GA = 3/3, PGA = 2/2, RGA = 2/2, FGA = 1. PA = 2/4.
 * FTA: "a" -> {a}, same text: correct; "" -> {b}: wrong. PTA = 1/2, RTA = 1/2, FTA = 1/2.
 */
static void test_missing_truth(void **state)
{
    const char *truth[] = {"a", "a", "", "b"};
    const char *pred[] = {"a", "a", "a", NULL};
    struct lw_eval_scores s;

    (void)state;
    assert_int_equal(lw_eval_score(4, pred, truth, &s, NULL), LW_OK);
    assert_int_equal(s.n_scored, 3);
    assert_true(s.ga > 1 - EPS);
    assert_true(s.fga > 1 - EPS);
    assert_true(s.pa > 0.5 - EPS && s.pa < 0.5 + EPS);
    assert_true(s.fta > 0.5 - EPS && s.fta < 0.5 + EPS);
}

static void test_no_truth(void **state)
{
    const char *truth[] = {"", NULL};
    const char *pred[] = {"a", "b"};
    struct lw_eval_scores s;

    (void)state;
    assert_int_equal(lw_eval_score(2, pred, truth, &s, NULL), LW_EINVAL);
    assert_int_equal(lw_eval_score(0, pred, truth, &s, NULL), LW_EINVAL);
}

static void test_csv_basic(void **state)
{
    const char *data = "\xef\xbb\xbf" "LineId,Content,EventTemplate\r\n"
                       "1,\"a, b\",\"say \"\"hi\"\"\"\r\n"
                       "2,\"two\nlines\",x\n"
                       "\n"
                       "3,,\"\"\n";
    struct lw_csv csv;
    char err[128];

    (void)state;
    assert_int_equal(lw_csv_parse(data, strlen(data), &csv, err, sizeof(err)), LW_OK);
    assert_int_equal(csv.n_cols, 3);
    assert_int_equal(csv.n_rows, 3);
    assert_int_equal(lw_csv_column(&csv, "EventTemplate"), 2);
    assert_int_equal(lw_csv_column(&csv, "LineId"), 0);
    assert_int_equal(lw_csv_column(&csv, "EventId"), -1);
    assert_string_equal(lw_csv_cell(&csv, 0, 1), "a, b");
    assert_string_equal(lw_csv_cell(&csv, 0, 2), "say \"hi\"");
    assert_string_equal(lw_csv_cell(&csv, 1, 1), "two\nlines");
    assert_string_equal(lw_csv_cell(&csv, 1, 2), "x");
    assert_string_equal(lw_csv_cell(&csv, 2, 0), "3");
    assert_string_equal(lw_csv_cell(&csv, 2, 1), "");
    assert_string_equal(lw_csv_cell(&csv, 2, 2), "");
    assert_int_equal(csv.row_line[0], 2);
    assert_int_equal(csv.row_line[1], 3);
    assert_int_equal(csv.row_line[2], 6);
    lw_csv_fini(&csv);
}

static void test_csv_trailing(void **state)
{
    const char *data = "a,b,c\n1,2,";
    struct lw_csv csv;
    char err[128];

    (void)state;
    assert_int_equal(lw_csv_parse(data, strlen(data), &csv, err, sizeof(err)), LW_OK);
    assert_int_equal(csv.n_rows, 1);
    assert_string_equal(lw_csv_cell(&csv, 0, 2), "");
    lw_csv_fini(&csv);
}

static void expect_error(const char *data, const char *want)
{
    struct lw_csv csv;
    char err[128];

    assert_int_equal(lw_csv_parse(data, strlen(data), &csv, err, sizeof(err)), LW_EINVAL);
    if (strstr(err, want) == NULL) {
        print_error("error '%s' lacks '%s'\n", err, want);
        fail();
    }
}

static void test_csv_errors(void **state)
{
    (void)state;
    expect_error("a,b\n1,2\n3,\"four\n", "line 3: unterminated quoted field");
    expect_error("a,b\n1,2\n3,4,5\n", "line 3: 3 fields, the header has 2");
    expect_error("a,b\n\"x\"y,2\n", "line 2: unexpected 'y' after a closing quote");
    expect_error("a,b\n\"multi\nline\",2\n1\n", "line 4: 1 fields, the header has 2");
    expect_error("", "empty file");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_case),     cmocka_unit_test(test_merged),
        cmocka_unit_test(test_perfect),       cmocka_unit_test(test_missing_truth),
        cmocka_unit_test(test_no_truth),      cmocka_unit_test(test_csv_basic),
        cmocka_unit_test(test_csv_trailing),  cmocka_unit_test(test_csv_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
