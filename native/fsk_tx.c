/* PLACEHOLDER: replaced by the real implementation. */
#include "internal.h"
struct ctid_fsk_tx { int n; };
ctid_fsk_tx_t *ctid_fsk_tx_new(int modem, float level) { (void)modem; (void)level; return calloc(1, sizeof(ctid_fsk_tx_t)); }
int ctid_fsk_tx_put(ctid_fsk_tx_t *s, const uint8_t *d, int n, int sb, int mb) { (void)s; (void)d; (void)n; (void)sb; (void)mb; return 0; }
int ctid_fsk_tx_generate(ctid_fsk_tx_t *s, int16_t *a, int m) { (void)s; (void)a; (void)m; return 0; }
void ctid_fsk_tx_reset(ctid_fsk_tx_t *s) { (void)s; }
void ctid_fsk_tx_free(ctid_fsk_tx_t *s) { free(s); }
