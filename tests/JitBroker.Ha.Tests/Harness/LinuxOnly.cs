// The proofs drive real processes with POSIX signals (SIGKILL, SIGSTOP/SIGCONT) and Debian's redis-server.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
