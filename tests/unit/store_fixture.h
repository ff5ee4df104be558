/*
 * The store tests' fixture (test_store.c, test_store_query.c, test_engine_store.c): a mkdtemp
 * directory ROOT and the data directory ROOT/data, which the store creates. Not a test itself
 * (the unit test glob is test_*.c); each test file includes it once.
 */
#ifndef LW_TESTS_STORE_FIXTURE_H
#define LW_TESTS_STORE_FIXTURE_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct fixture {
    char root[64];   /* the mkdtemp directory */
    char dir[128];   /* the data directory: ROOT/data (created by the store) */
};

static void rm_tree(const char *path)
{
    char child[512];
    struct dirent *e;
    struct stat sb;
    DIR *d;

    if (lstat(path, &sb) != 0) {
        return;
    }
    if (!S_ISDIR(sb.st_mode)) {
        unlink(path);
        return;
    }
    d = opendir(path);
    if (d != NULL) {
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
                snprintf(child, sizeof(child), "%s/%s", path, e->d_name);
                rm_tree(child);
            }
        }
        closedir(d);
    }
    rmdir(path);
}

/* Creates the fixture in *@state; @tmpl is the mkdtemp template ("/tmp/lw-x-XXXXXX"). */
static int fixture_setup(void **state, const char *tmpl)
{
    struct fixture *f = calloc(1, sizeof(*f));

    if (f == NULL) {
        return -1;
    }
    snprintf(f->root, sizeof(f->root), "%s", tmpl);
    if (mkdtemp(f->root) == NULL) {
        free(f);
        return -1;
    }
    snprintf(f->dir, sizeof(f->dir), "%s/data", f->root);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    rm_tree(f->root);
    free(f);
    return 0;
}

#endif
