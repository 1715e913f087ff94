/* PLACEHOLDER: replaced by the real implementation. */
#include "internal.h"
struct ctid_dtmf_tx { int n; };
void ctid_dtmf_tx_defaults(ctid_dtmf_tx_params_t *p) { memset(p, 0, sizeof(*p)); }
ctid_dtmf_tx_t *ctid_dtmf_tx_new(const ctid_dtmf_tx_params_t *p) { (void)p; return calloc(1, sizeof(ctid_dtmf_tx_t)); }
int ctid_dtmf_tx_put(ctid_dtmf_tx_t *s, const char *d) { (void)s; (void)d; return 0; }
int ctid_dtmf_tx_generate(ctid_dtmf_tx_t *s, int16_t *a, int m) { (void)s; (void)a; (void)m; return 0; }
int ctid_dtmf_tx_pending(ctid_dtmf_tx_t *s) { (void)s; return 0; }
void ctid_dtmf_tx_reset(ctid_dtmf_tx_t *s) { (void)s; }
void ctid_dtmf_tx_free(ctid_dtmf_tx_t *s) { free(s); }
