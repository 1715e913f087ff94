/* PLACEHOLDER: replaced by the real implementation. */
#include "internal.h"
struct ctid_fsk_rx { int n; };
void ctid_fsk_rx_defaults(ctid_fsk_rx_params_t *p) { memset(p, 0, sizeof(*p)); p->modem = CTID_FSK_BELL202; }
ctid_fsk_rx_t *ctid_fsk_rx_new(int nlanes, const ctid_fsk_rx_params_t *p) { (void)p; ctid_fsk_rx_t *s = calloc(1, sizeof(*s)); if (s) s->n = nlanes; return s; }
void ctid_fsk_rx_process(ctid_fsk_rx_t *s, const float *x, int nframes, int stride, const uint8_t *enabled, uint64_t t0, ctid_evbuf_t *out) { (void)s;(void)x;(void)nframes;(void)stride;(void)enabled;(void)t0;(void)out; }
int ctid_fsk_rx_message(ctid_fsk_rx_t *s, int lane, uint8_t *buf, int cap) { (void)s; (void)lane; (void)buf; (void)cap; return 0; }
int ctid_fsk_rx_bad_messages(ctid_fsk_rx_t *s, int lane) { (void)s; (void)lane; return 0; }
void ctid_fsk_rx_reset(ctid_fsk_rx_t *s, int lane) { (void)s; (void)lane; }
void ctid_fsk_rx_free(ctid_fsk_rx_t *s) { free(s); }
