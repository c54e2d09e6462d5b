//! Finding encoders (pure) and transports (IO): file, stdout, syslog, HTTP/HEC.
