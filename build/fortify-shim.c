/* Debian's libunwind.a (LLVM 14) was compiled against glibc with
 * _FORTIFY_SOURCE, so it calls __fprintf_chk, which musl does not have.
 * This gives it one, over plain vfprintf. Built and linked by `make static`
 * and `make static-arm64` (musl targets only). */
#include <stdarg.h>
#include <stdio.h>

int __fprintf_chk(FILE *stream, int flag, const char *format, ...) {
    (void)flag;
    va_list ap;
    va_start(ap, format);
    int n = vfprintf(stream, format, ap);
    va_end(ap);
    return n;
}
