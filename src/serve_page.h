/*
 * serve_page.h - the page "sikkermail-ctl serve" answers GET / with:
 * src/serve_page.html, made into a C string by the build (Makefile.am).
 * "@NONCE@" stands where each answer puts its Content-Security-Policy
 * nonce, "@LANG@" where it puts the default language (da or en).
 */
#ifndef SIKKERMAIL_SERVE_PAGE_H
#define SIKKERMAIL_SERVE_PAGE_H

extern const char serve_page_html[];

#endif
