# Lambdesk's Python bootstrap: Lambda's Python handler contract (as AWS's
# runtime interface client, awslambdaric, implements it) on RustPython.
# Run once per machine before the snapshot (`prepare`), then `load` at INIT
# and `invoke` for every event. `_native` holds the host's functions (lib.rs).
import sys
import types
import os
import json
import time
import importlib
import traceback
import logging
import decimal

# Modules handlers commonly import, loaded before the snapshot so a cold start
# does not pay for them.
import base64, collections, dataclasses, datetime, functools, hashlib, hmac  # noqa: E401,F401
import itertools, math, random, re, typing, urllib.parse, uuid  # noqa: E401,F401

_native = types.SimpleNamespace(**_native_functions)
del _native_functions


def _socket_module():
    """A `socket` module without sockets: WASI has none, so RustPython has no
    `_socket`. What `http.client`, `urllib.request` and `email` need to
    import is here; a connection is refused with a clear OSError (outbound
    HTTP goes through the host: urllib below)."""
    m = types.ModuleType("socket")
    m.__doc__ = "Lambdesk: no sockets in the sandbox; urllib.request goes through the host."
    m._GLOBAL_DEFAULT_TIMEOUT = object()
    m.error = OSError
    m.timeout = TimeoutError

    class gaierror(OSError):
        pass

    class herror(OSError):
        pass

    m.gaierror, m.herror = gaierror, herror
    m.AF_INET, m.AF_INET6, m.AF_UNSPEC = 2, 10, 0
    m.SOCK_STREAM, m.SOCK_DGRAM, m.IPPROTO_TCP, m.TCP_NODELAY = 1, 2, 6, 1
    m.SOL_SOCKET, m.SO_KEEPALIVE, m.SHUT_RDWR = 1, 9, 2
    m.has_ipv6 = False

    def _no_sockets(*_args, **_kwargs):
        raise OSError(
            "sockets are not available in Lambdesk's sandbox: use urllib.request "
            "(it goes through the host and the role's outbound grants)"
        )

    m.socket = m.create_connection = m.getaddrinfo = m.gethostbyname = _no_sockets
    m.socketpair = m.fromfd = _no_sockets
    m.gethostname = lambda: "localhost"
    m.getfqdn = lambda name="": name or "localhost"
    m.getdefaulttimeout = lambda: None
    m.setdefaulttimeout = lambda _timeout: None
    return m


try:
    import _socket  # noqa: F401
except ImportError:
    sys.modules["socket"] = _socket_module()

import email.message  # noqa: E402
import http  # noqa: E402
import http.client  # noqa: E402
import io  # noqa: E402
import urllib.error  # noqa: E402
import urllib.request  # noqa: E402
import urllib.response  # noqa: E402


class _HostHTTPHandler(urllib.request.BaseHandler):
    """`urllib.request` over the host's outbound HTTP (`lambdesk.http_*`):
    the role's grants decide, a denied request is a URLError and a
    `[DENIED]` log line. Ahead of urllib's own handlers, which need sockets."""

    handler_order = 100

    def _open(self, req):
        headers = [[k, v] for k, v in req.header_items() if k.lower() != "host"]
        meta = json.dumps({"method": req.get_method(), "url": req.full_url, "headers": headers})
        data = req.data
        if data is None:
            body = b""
        elif isinstance(data, (bytes, bytearray, memoryview)):
            body = bytes(data)
        elif isinstance(data, str):
            raise TypeError("POST data should be bytes, an iterable of bytes, or a file object. It cannot be of type str.")
        elif hasattr(data, "read"):
            body = data.read()
        else:
            body = b"".join(data)
        handle = _native.http_send(meta, body)
        if handle < 0:
            raise urllib.error.URLError(self._failure())
        try:
            head = json.loads(_native.http_head(handle) or "{}")
            chunks = []
            while True:
                chunk = _native.http_read(handle)
                if chunk is None:
                    raise urllib.error.URLError(self._failure())
                if not chunk:
                    break
                chunks.append(chunk)
        finally:
            _native.http_close(handle)
        message = http.client.HTTPMessage()
        for name, value in head.get("headers", []):
            message[name] = value
        code = int(head.get("status", 0))
        response = urllib.response.addinfourl(io.BytesIO(b"".join(chunks)), message, req.full_url, code)
        try:
            response.msg = http.HTTPStatus(code).phrase
        except ValueError:
            response.msg = ""
        response.reason = response.msg
        return response

    @staticmethod
    def _failure():
        try:
            e = json.loads(_native.http_error())
            return "%s: %s" % (e.get("kind", "HttpError"), e.get("message", ""))
        except ValueError:
            return "HttpError"

    http_open = _open
    https_open = _open


urllib.request.install_opener(urllib.request.build_opener(_HostHTTPHandler))
_request_id = None
_handler = None
_handler_name = ""


class _LogStream:
    """`sys.stdout` and `sys.stderr`: what a function prints goes to its log."""

    encoding = "utf-8"
    errors = "strict"

    def write(self, text):
        if not isinstance(text, str):
            raise TypeError("write() argument must be str, not " + type(text).__name__)
        _native.log(text)
        return len(text)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        pass

    def isatty(self):
        return False

    def writable(self):
        return True

    def readable(self):
        return False

    def fileno(self):
        return 2


sys.stdout = sys.stderr = _LogStream()


class _LoggerHandler(logging.Handler):
    """Lambda's root log handler: one record, one log event (its own line
    breaks kept inside it as carriage returns)."""

    def emit(self, record):
        try:
            text = self.format(record)
            if text.endswith("\n"):
                text = text[:-1]
            _native.log(text.replace("\n", "\r") + "\n")
        except Exception:
            self.handleError(record)


class _RequestIdFilter(logging.Filter):
    def filter(self, record):
        record.aws_request_id = _request_id or ""
        return True


_formatter = logging.Formatter(
    "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n",
    "%Y-%m-%dT%H:%M:%S",
)
_formatter.converter = time.gmtime
_log_handler = _LoggerHandler()
_log_handler.setFormatter(_formatter)
_log_handler.addFilter(_RequestIdFilter())
logging.getLogger().addHandler(_log_handler)

_LOG_LEVELS = {"TRACE": 5, "DEBUG": 10, "INFO": 20, "WARN": 30, "WARNING": 30, "ERROR": 40, "FATAL": 50}


class LambdaContext:
    """The `context` a handler gets, with Lambda's attribute names."""

    def __init__(self, c):
        self.aws_request_id = c.get("awsRequestId", "")
        self.log_group_name = c.get("logGroupName", "")
        self.log_stream_name = c.get("logStreamName", "")
        self.function_name = c.get("functionName", "")
        # A string, as Lambda reads it from the environment.
        self.memory_limit_in_mb = str(c.get("memoryLimitInMB", ""))
        self.function_version = c.get("functionVersion", "$LATEST")
        self.invoked_function_arn = c.get("invokedFunctionArn", "")
        self.client_context = None
        self.identity = None
        self.tenant_id = None
        self._deadline_ms = c.get("deadlineMs", 0)

    def get_remaining_time_in_millis(self):
        return _native.remaining_ms()

    def log(self, msg):
        sys.stdout.write(str(msg))

    def __repr__(self):
        return (
            f"{self.__class__.__name__}(["
            f"aws_request_id={self.aws_request_id},"
            f"log_group_name={self.log_group_name},"
            f"log_stream_name={self.log_stream_name},"
            f"function_name={self.function_name},"
            f"memory_limit_in_mb={self.memory_limit_in_mb},"
            f"function_version={self.function_version},"
            f"invoked_function_arn={self.invoked_function_arn},"
            f"client_context={self.client_context},"
            f"identity={self.identity},"
            f"tenant_id={self.tenant_id}"
            "])"
        )


class _Fault(Exception):
    def __init__(self, error_type, message, trace=None):
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.trace = trace


def _error(message, error_type, stack, request_id=None):
    return {
        "errorMessage": message or "",
        "errorType": error_type or "",
        "requestId": request_id or "",
        "stackTrace": stack or [],
    }


def _log_error(result):
    """The `[ERROR] Type: message` record Lambda writes with the traceback."""
    head = "[ERROR]"
    if result["errorType"]:
        head += " " + result["errorType"]
    if result["errorMessage"]:
        if result["errorType"]:
            head += ":"
        head += " " + result["errorMessage"]
    lines = [head, "Traceback (most recent call last):"]
    for element in result["stackTrace"]:
        lines.extend(element.splitlines() or [""])
    _native.log("\r".join(lines) + "\n")


def _user_frames(tb):
    """The traceback from the function's own frames on (this file's left out)."""
    frames = traceback.extract_tb(tb)
    for i, frame in enumerate(frames):
        if frame.filename != __file__:
            return traceback.format_list(frames[i:])
    return []


def _from_exception(e, request_id=None):
    if isinstance(e, _Fault):
        return _error(e.message, e.error_type, e.trace, request_id)
    return _error(str(e), type(e).__name__, _user_frames(e.__traceback__), request_id)


def _json_default(o):
    if isinstance(o, decimal.Decimal):
        return float(o)
    raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")


def _refresh_environment():
    """The function's environment: a snapshot keeps the one `prepare` saw."""
    fresh = json.loads(_native.environ())
    for name in [k for k in os.environ if k not in fresh]:
        del os.environ[name]
    for name, value in fresh.items():
        if os.environ.get(name) != value:
            os.environ[name] = value
    level = _LOG_LEVELS.get(os.environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper())
    logging.getLogger().setLevel(level if level is not None else logging.WARNING)


def _find_handler(setting):
    try:
        module_name, function_name = setting.rsplit(".", 1)
    except ValueError as e:
        raise _Fault("Runtime.MalformedHandlerName", f"Bad handler '{setting}': {e}")
    if module_name.split(".")[0] in sys.builtin_module_names:
        raise _Fault(
            "Runtime.BuiltInModuleConflict",
            f"Cannot use built-in module {module_name} as a handler module",
        )
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as e:
        raise _Fault("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {e}")
    except SyntaxError as e:
        trace = [f'  File "{e.filename}" Line {e.lineno}\n    {(e.text or "").strip()}\n']
        raise _Fault("Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {e}", trace)
    handler = getattr(module, function_name, None)
    if handler is None:
        # As Lambda: INIT succeeds, every invocation fails.
        fault = _Fault(
            "Runtime.HandlerNotFound",
            f"Handler '{function_name}' missing on module '{module_name}'",
        )

        def missing(event, context):
            raise fault

        return missing
    return handler


def load():
    """INIT: the function's environment, fresh randomness, its module. None
    when it loaded, else Lambda's error object as JSON."""
    global _handler, _handler_name
    _refresh_environment()
    # After a restore every environment would draw the same numbers.
    random.seed()
    task = os.environ.get("LAMBDA_TASK_ROOT", "/var/task")
    for path in reversed([task, "/opt/python", f"/opt/python/lib/python{sys.version_info[0]}.{sys.version_info[1]}/site-packages"]):
        if path not in sys.path:
            sys.path.insert(0, path)
    try:
        os.chdir(task)
    except OSError:
        pass
    _handler_name = os.environ.get("_HANDLER", "lambda_function.lambda_handler")
    try:
        _handler = _find_handler(_handler_name)
    except Exception as e:
        result = _from_exception(e)
        _log_error(result)
        return json.dumps(result)
    return None


def restore():
    """After a SnapStart restore: the environment again, fresh randomness."""
    _refresh_environment()
    random.seed()


def invoke(event_text, context_text, too_deep=""):
    """One invocation: (True, response JSON) or (False, error JSON).
    `too_deep` says why the event is not decoded (lib.rs checks its depth)."""
    global _request_id
    c = json.loads(context_text)
    context = LambdaContext(c)
    _request_id = context.aws_request_id
    try:
        if _handler is None:
            raise _Fault("Runtime.Unknown", "the handler did not load")
        try:
            if too_deep:
                raise ValueError(too_deep)
            event = json.loads(event_text) if event_text.strip() else {}
        except Exception as e:
            raise _Fault("Runtime.UnmarshalError", f"Unable to unmarshal input: {e}")
        response = _handler(event, context)
        try:
            text = json.dumps(response, default=_json_default)
        except Exception as e:
            raise _Fault("Runtime.MarshalError", f"Unable to marshal response: {e}")
        return (True, text)
    except SystemExit as e:
        # As a process exiting in Lambda: the environment ends.
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        _native.exit(code)
    except Exception as e:
        result = _from_exception(e, _request_id)
        _log_error(result)
        return (False, json.dumps(result))
