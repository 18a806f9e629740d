// Pod layouts need Unix file modes and symlinks, as the kubelet makes them; redis-server is a Linux package.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
