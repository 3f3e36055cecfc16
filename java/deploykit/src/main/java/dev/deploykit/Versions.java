package dev.deploykit;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;
import org.tensorflow.TensorFlow;

/** The client's version and the TensorFlow Java / TensorFlow versions it runs on. */
public final class Versions {
  private static final Properties PROPS = load();

  private Versions() {}

  public static String client() {
    return PROPS.getProperty("version", "unknown");
  }

  /** The TF Java release from the build (e.g. 1.1.0). */
  public static String tensorflowJava() {
    return PROPS.getProperty("tensorflow.java.version", "unknown");
  }

  /** The TensorFlow runtime's own version (e.g. 2.18.0); loads the native library. */
  public static String tensorflow() {
    return TensorFlow.version();
  }

  private static Properties load() {
    Properties p = new Properties();
    try (InputStream in = Versions.class.getResourceAsStream("/deploykit-java.properties")) {
      if (in != null) {
        p.load(in);
      }
    } catch (IOException e) {
      // keep the defaults: a version string is not worth failing over
    }
    return p;
  }
}
