/* PLACEHOLDER: replaced by the real implementation. */
#include "internal.h"
struct ctid_r2mf_tx { int n; };
ctid_r2mf_tx_t *ctid_r2mf_tx_new(int backward, float level) { (void)backward; (void)level; return calloc(1, sizeof(ctid_r2mf_tx_t)); }
int ctid_r2mf_tx_set(ctid_r2mf_tx_t *s, int sig) { (void)s; (void)sig; return 0; }
int ctid_r2mf_tx_generate(ctid_r2mf_tx_t *s, int16_t *a, int m) { (void)s; memset(a, 0, sizeof(int16_t) * (size_t)m); return m; }
void ctid_r2mf_tx_reset(ctid_r2mf_tx_t *s) { (void)s; }
void ctid_r2mf_tx_free(ctid_r2mf_tx_t *s) { free(s); }
