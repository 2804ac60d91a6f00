package io.ringway.control;

/** A JSON-RPC 2.0 error: its code and a message naming the problem. */
public final class RpcException extends RuntimeException {
    /** Not JSON (JSON-RPC 2.0, 5.1). */
    public static final int PARSE_ERROR = -32700;
    /** JSON, but not a request object. */
    public static final int INVALID_REQUEST = -32600;
    /** No such method. */
    public static final int METHOD_NOT_FOUND = -32601;
    /** Missing, unknown or mistyped parameter, or a value outside its range. */
    public static final int INVALID_PARAMS = -32602;
    /** The daemon failed to do what was asked (the OS refused, a device failed to start). */
    public static final int INTERNAL_ERROR = -32603;
    /** A name already taken. */
    public static final int ALREADY_EXISTS = -32001;
    /** No object of that name. */
    public static final int NOT_FOUND = -32002;
    /** The object is in use by another (a bdev under a controller). */
    public static final int IN_USE = -32003;

    private final int code;

    public RpcException(int code, String message) {
        super(message);
        this.code = code;
    }

    /** @return the JSON-RPC error code */
    public int code() {
        return code;
    }

    static RpcException params(String message) {
        return new RpcException(INVALID_PARAMS, message);
    }
}
