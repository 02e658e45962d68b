/*
 * scorer_files.c — the scorer shipped in every model download (see
 * scorer_files.h): scorer/trainyard_scorer.py and scorer/README.md, built
 * into the API binary with the assembler's .incbin, so that an archive
 * never depends on where, or whether, the source tree is installed. The
 * Makefile makes this object depend on both files (.incbin is invisible to
 * -MMD); the paths are relative to the top of the tree, where make runs.
 */
#include "handlers/scorer_files.h"

__asm__(".section .rodata\n"
        ".globl trainyard_scorer_py_start\n.hidden trainyard_scorer_py_start\n"
        ".globl trainyard_scorer_py_end\n.hidden trainyard_scorer_py_end\n"
        ".globl trainyard_scorer_readme_start\n.hidden trainyard_scorer_readme_start\n"
        ".globl trainyard_scorer_readme_end\n.hidden trainyard_scorer_readme_end\n"
        "trainyard_scorer_py_start:\n"
        ".incbin \"scorer/trainyard_scorer.py\"\n"
        "trainyard_scorer_py_end:\n"
        "trainyard_scorer_readme_start:\n"
        ".incbin \"scorer/README.md\"\n"
        "trainyard_scorer_readme_end:\n"
        ".previous\n");

extern const char trainyard_scorer_py_start[], trainyard_scorer_py_end[];
extern const char trainyard_scorer_readme_start[], trainyard_scorer_readme_end[];

size_t scorer_files_get(scorer_file_t out[SCORER_FILES_COUNT])
{
    out[0] = (scorer_file_t){"trainyard_scorer.py", trainyard_scorer_py_start,
                             (size_t)(trainyard_scorer_py_end - trainyard_scorer_py_start)};
    out[1] = (scorer_file_t){"README.md", trainyard_scorer_readme_start,
                             (size_t)(trainyard_scorer_readme_end - trainyard_scorer_readme_start)};
    return SCORER_FILES_COUNT;
}
