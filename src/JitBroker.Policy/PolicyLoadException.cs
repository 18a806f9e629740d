namespace JitBroker.Policy;

/// <summary>
/// A policy document could not be loaded. <see cref="Exception.Message"/> reads
/// <c>source:line:column: what is wrong</c> (the form editors and CI annotate), so it can be shown to an
/// operator as is. It never contains anything but the policy's own text and the problem.
/// </summary>
public sealed class PolicyLoadException : Exception
{
    /// <summary>Creates the exception; <paramref name="line"/> and <paramref name="column"/> are 1-based, 0 when unknown.</summary>
    public PolicyLoadException(string sourceName, int line, int column, string problem, Exception? innerException = null)
        : base(Format(sourceName, line, column, problem), innerException)
    {
        SourceName = sourceName;
        Line = line;
        Column = column;
        Problem = problem;
    }

    /// <summary>The file path (or the name given to <see cref="YamlPolicyEngine.Parse"/>).</summary>
    public string SourceName { get; }

    /// <summary>1-based line of the offending node; 0 when the problem has no position (the file cannot be read).</summary>
    public int Line { get; }

    /// <summary>1-based column of the offending node; 0 when the problem has no position.</summary>
    public int Column { get; }

    /// <summary>What is wrong, without the position prefix.</summary>
    public string Problem { get; }

    private static string Format(string sourceName, int line, int column, string problem) =>
        line > 0 ? $"{sourceName}:{line}:{column}: {problem}" : $"{sourceName}: {problem}";
}
