/**
 * The L2 learning switch: {@link io.ringway.net.l2switch.L2Switch} (the lcore poller),
 * {@link io.ringway.net.l2switch.MacTable} (learning, ageing, full-table policy),
 * {@link io.ringway.net.l2switch.SwitchPortCounters}. Named {@code l2switch} because {@code switch}
 * is a Java keyword.
 */
package io.ringway.net.l2switch;
