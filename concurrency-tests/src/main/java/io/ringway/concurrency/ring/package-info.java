/**
 * jcstress tests of the off-heap handle rings: a handle taken from a ring carries the writes its
 * producer made before offering it, and a slot is not reused before its consumer has read it.
 * Each test names the rule it checks; run with {@code org.openjdk.jcstress.Main}.
 */
package io.ringway.concurrency.ring;
