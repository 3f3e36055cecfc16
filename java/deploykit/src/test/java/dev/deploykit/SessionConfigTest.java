package dev.deploykit;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;
import org.tensorflow.proto.ConfigProto;
import org.tensorflow.proto.RewriterConfig;

/** Ops on the calling thread always; the remapper off unless oneDNN's rewrites are off. */
class SessionConfigTest {
  @Test
  void remapperOffUnlessOneDnnIsOff() {
    for (String env : new String[] {"0", null, "1"}) {
      ConfigProto c = Model.sessionConfig(env);
      assertEquals(
          -1, c.getInterOpParallelismThreads(), "inter-op threads, TF_ENABLE_ONEDNN_OPTS=" + env);
      RewriterConfig.Toggle want =
          "0".equals(env) ? RewriterConfig.Toggle.DEFAULT : RewriterConfig.Toggle.OFF;
      assertEquals(
          want,
          c.getGraphOptions().getRewriteOptions().getRemapping(),
          "remapper, TF_ENABLE_ONEDNN_OPTS=" + env);
    }
  }
}
