/*
 * The admin's side of --state FILE: --status[=prometheus] prints what the
 * per-connection processes share, --drain and --undrain mark a backend.
 */
#ifndef STATUS_H
#define STATUS_H

#include "config.h"

/* Runs the mode cfg asks for; the exit status. */
int	status_main(const struct config *cfg, int stderr_ok);

#endif
