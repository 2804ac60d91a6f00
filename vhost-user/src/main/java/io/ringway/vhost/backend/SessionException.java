package io.ringway.vhost.backend;

import java.io.Serial;
import java.util.Objects;

/**
 * A vhost-user session rule was broken; carries the {@link SessionRule} and a message with the
 * offending values. The message reads {@code RULE_NAME: rule text: details}.
 */
public final class SessionException extends RuntimeException {
    @Serial
    private static final long serialVersionUID = 1L;

    private final transient SessionRule rule;

    /**
     * @param rule    the rule that was broken
     * @param details the values that broke it
     */
    public SessionException(SessionRule rule, String details) {
        this(rule, details, null);
    }

    /**
     * @param rule    the rule that was broken
     * @param details the values that broke it
     * @param cause   the underlying failure, if any
     */
    public SessionException(SessionRule rule, String details, Throwable cause) {
        super(rule.name() + ": " + rule.text() + ": " + details, cause);
        this.rule = Objects.requireNonNull(rule, "rule");
    }

    /** The rule that was broken. */
    public SessionRule rule() {
        return rule;
    }
}
