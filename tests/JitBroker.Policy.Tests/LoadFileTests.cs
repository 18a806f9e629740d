namespace JitBroker.Policy.Tests;

public sealed class LoadFileTests
{
    private string _directory = null!;

    [SetUp]
    public void CreateDirectory() => _directory = Directory.CreateTempSubdirectory("jitbroker-policy-").FullName;

    [TearDown]
    public void DeleteDirectory() => Directory.Delete(_directory, recursive: true);

    [Test]
    public void Errors_in_a_file_name_the_file()
    {
        var path = Write("bad.yaml", "version: 1\nrules: []\nextra: 1\n"u8);

        var ex = Assert.Throws<PolicyLoadException>(() => YamlPolicyEngine.LoadFile(path))!;

        Assert.That(ex.SourceName, Is.EqualTo(path));
        Assert.That(ex.Message, Does.StartWith($"{path}:3:1: unknown key 'extra'"));
    }

    [Test]
    public void Missing_file_is_a_load_error_without_position()
    {
        var path = Path.Combine(_directory, "absent.yaml");

        var ex = Assert.Throws<PolicyLoadException>(() => YamlPolicyEngine.LoadFile(path))!;

        Assert.That((ex.Line, ex.Column), Is.EqualTo((0, 0)));
        Assert.That(ex.Message, Does.StartWith($"{path}: cannot read the policy file"));
        Assert.That(ex.InnerException, Is.InstanceOf<FileNotFoundException>());
    }

    [Test]
    public void Invalid_utf8_is_refused_rather_than_guessed()
    {
        var path = Write("latin1.yaml", [.. "version: 1\nrules: []\n# caf"u8, 0xE9, (byte)'\n']);

        var ex = Assert.Throws<PolicyLoadException>(() => YamlPolicyEngine.LoadFile(path))!;

        Assert.That(ex.Problem, Is.EqualTo("the policy file is not valid UTF-8"));
    }

    [Test]
    public void Utf8_with_bom_loads()
    {
        var path = Write("bom.yaml", [0xEF, 0xBB, 0xBF, .. "version: 1\nrules: []\n"u8]);

        Assert.That(YamlPolicyEngine.LoadFile(path).RuleCount, Is.Zero);
    }

    [Test]
    public void Oversized_policy_text_is_refused() =>
        Assert.That(() => YamlPolicyEngine.Parse(new string('#', YamlPolicyEngine.MaxPolicySize + 1), "huge.yaml"),
            Throws.TypeOf<PolicyLoadException>().With.Property(nameof(PolicyLoadException.Problem)).Contains("larger than"));

    private string Write(string name, ReadOnlySpan<byte> bytes)
    {
        var path = Path.Combine(_directory, name);
        File.WriteAllBytes(path, bytes.ToArray());
        return path;
    }
}
