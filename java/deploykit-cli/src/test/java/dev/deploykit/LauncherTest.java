package dev.deploykit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A few runs of the real launcher, bin/deploykit-java, from another working directory. */
class LauncherTest {
  private static final Path LAUNCHER = Fixtures.REPO.resolve("bin/deploykit-java");
  private static final Path M = Fixtures.TEST_MANIFEST;

  record Proc(int code, String out, String err) {}

  private static Proc launch(String... args) throws IOException, InterruptedException {
    return launchVia(LAUNCHER, args);
  }

  private static Proc launchVia(Path launcher, String... args)
      throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>(List.of(launcher.toString()));
    cmd.addAll(List.of(args));
    ProcessBuilder pb =
        new ProcessBuilder(cmd).directory(Path.of(System.getProperty("java.io.tmpdir")).toFile());
    Process p = pb.start();
    p.getOutputStream().close();
    var out = p.getInputStream().readAllBytes();
    var err = p.getErrorStream().readAllBytes();
    assertTrue(p.waitFor(120, TimeUnit.SECONDS));
    return new Proc(
        p.exitValue(),
        new String(out, StandardCharsets.UTF_8),
        new String(err, StandardCharsets.UTF_8));
  }

  @Test
  void checksGoldenFromAnotherDirectory() throws Exception {
    Proc p =
        launch(
            "--manifest",
            M.toString(),
            "--model",
            "wide_keras",
            "--input-dir",
            Fixtures.goldenDir(M, "wide_keras", "golden").toString(),
            "--check-dir",
            Fixtures.expectedDir(M, "wide_keras", "golden").toString());
    assertEquals(0, p.code(), p.toString());
    assertTrue(p.out().startsWith("check output: pass max_abs="), p.out());
    assertEquals("", p.err(), "TensorFlow's native logs must be silenced");
  }

  @Test
  void usageWithoutArguments() throws Exception {
    Proc p = launch();
    assertEquals(2, p.code());
    assertTrue(p.err().startsWith("Usage: deploykit-java"), p.err());
  }

  /**
   * One line: the project's VERSION (pom.xml's version, filtered in) and the runtime's versions.
   */
  @Test
  void versionLine() throws Exception {
    String version = Files.readString(Fixtures.REPO.resolve("VERSION")).strip();
    Proc p = launch("--version");
    assertEquals(0, p.code(), p.toString());
    assertEquals("deploykit-java " + version + " (TF Java 1.1.0, TensorFlow 2.18.0)\n", p.out());
  }

  /** Called through a symlink, the launcher finds its own tree; with no jar there it exits 3. */
  @Test
  void notBuiltThroughSymlink(@TempDir Path tmp) throws Exception {
    Path root = Files.createDirectories(tmp.resolve("tree")).toRealPath();
    Path bin = Files.createDirectories(root.resolve("bin"));
    Path launcher =
        Files.copy(LAUNCHER, bin.resolve("deploykit-java"), StandardCopyOption.COPY_ATTRIBUTES);
    Path link = Files.createSymbolicLink(tmp.resolve("deploykit-java"), launcher);
    Proc p = launchVia(link, "--version");
    assertEquals(3, p.code(), p.toString());
    assertEquals("", p.out());
    assertEquals(
        "error: deploykit-java: "
            + root.resolve("java/deploykit-cli/target/deploykit-java.jar")
            + " is not built: run 'make setup-java' in "
            + root
            + "\n",
        p.err());
  }

  /**
   * An XlaCallModule model makes TensorFlow and MLIR log natively while it loads and compiles; the
   * launcher keeps that off stderr, so a good run prints nothing there.
   */
  @Test
  void xlaCallModuleModelRunsWithAQuietStderr() throws Exception {
    Proc p =
        launch(
            "--manifest",
            M.toString(),
            "--model",
            "mlp_flax",
            "--input-dir",
            Fixtures.goldenDir(M, "mlp_flax", "golden").toString(),
            "--output",
            Path.of(System.getProperty("java.io.tmpdir"), "deploykit-launcher-test.npy")
                .toString());
    assertEquals(0, p.code(), p.toString());
    assertEquals("", p.err(), p.toString());
  }

  @Test
  void unsafeFixtureRefused() throws Exception {
    Path u = Fixtures.UNSAFE_MANIFEST;
    Proc p =
        launch(
            "--manifest",
            u.toString(),
            "--model",
            "unsafe_readfile",
            "--input-dir",
            Fixtures.goldenDir(u, "unsafe_readfile", "golden").toString(),
            "--check-dir",
            Fixtures.expectedDir(u, "unsafe_readfile", "golden").toString());
    assertEquals(3, p.code(), p.toString());
    assertTrue(
        p.err().startsWith("error: safety unsafe_readfile/saved-model:")
            && p.err().contains("ReadFile"),
        p.err());
  }
}
