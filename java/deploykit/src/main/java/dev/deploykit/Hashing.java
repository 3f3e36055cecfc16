package dev.deploykit;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;

/**
 * The manifest's sha256 rules (docs/contract.md). A file: sha256 of its bytes. A folder: sha256 of
 * the lines {@code <sha256hex> <relpath>\n} of its regular files, sorted by relative path as UTF-8
 * bytes. Symbolic links are refused: a link could point the loader outside the checked tree.
 */
public final class Hashing {
  private Hashing() {}

  /** The sha256 of a file or folder artifact, as the manifest records it. */
  public static String artifactSha256(Path path) throws IOException {
    if (Files.isSymbolicLink(path)) {
      throw new IOException(path + " is a symbolic link");
    }
    return Files.isDirectory(path, LinkOption.NOFOLLOW_LINKS)
        ? folderSha256(path)
        : fileSha256(path);
  }

  public static String fileSha256(Path file) throws IOException {
    MessageDigest digest = sha256();
    try (InputStream in = Files.newInputStream(file, LinkOption.NOFOLLOW_LINKS)) {
      byte[] chunk = new byte[1 << 16];
      for (int n; (n = in.read(chunk)) > 0; ) {
        digest.update(chunk, 0, n);
      }
    }
    return HexFormat.of().formatHex(digest.digest());
  }

  public static String folderSha256(Path root) throws IOException {
    List<String> files = new ArrayList<>();
    try (Stream<Path> walk = Files.walk(root)) {
      for (Path p : (Iterable<Path>) walk::iterator) {
        if (Files.isSymbolicLink(p)) {
          throw new IOException("symbolic link " + root.relativize(p) + " inside " + root);
        }
        if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
          files.add(root.relativize(p).toString().replace('\\', '/'));
        }
      }
    }
    files.sort(
        (a, b) ->
            Arrays.compareUnsigned(
                a.getBytes(StandardCharsets.UTF_8), b.getBytes(StandardCharsets.UTF_8)));
    MessageDigest digest = sha256();
    for (String rel : files) {
      String line = fileSha256(root.resolve(rel)) + "  " + rel + "\n";
      digest.update(line.getBytes(StandardCharsets.UTF_8));
    }
    return HexFormat.of().formatHex(digest.digest());
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("the JDK has no SHA-256", e);
    }
  }
}
