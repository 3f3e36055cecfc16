package dev.deploykit;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.FunctionDef;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NameAttrList;
import org.tensorflow.proto.NodeDef;

/**
 * The op deny-list check. Before a SavedModel runs, every op that executing the given root tensors
 * can reach is collected: in the top-level graph by walking node inputs (data and control) back
 * from the roots, and in every function those nodes call, whether named by an attribute of type
 * {@code func} / {@code list(func)} (e.g. {@code StatefulPartitionedCall}'s {@code f}) or by the op
 * name itself (a call node whose op is a library function). A function body is taken whole, not
 * just its output cone: TF2 functions run their stateful ops through automatic control dependencies
 * even when no output depends on them.
 */
public final class OpSafety {
  private OpSafety() {}

  /** The deny-list: op name to the reason it is denied. */
  public record DenyList(Map<String, String> ops) {
    /**
     * Reads {@code {"version": 1, "ops": [{"op", "why"}]}} and checks its sha256 (exit 3 on
     * failure).
     */
    public static DenyList load(Path path, String expectedSha256) {
      String what = "deny-list " + path;
      try {
        if (!Files.isRegularFile(path)) {
          throw DeploykitException.loadFailed(
              what, "missing (the manifest's safety.unsafe_ops); refusing to run unchecked");
        }
        String actual = Hashing.fileSha256(path);
        if (!actual.equals(expectedSha256)) {
          throw DeploykitException.loadFailed(
              what, "sha256 mismatch: manifest " + expectedSha256 + ", file " + actual);
        }
        JsonObject doc =
            JsonParser.parseString(Files.readString(path, StandardCharsets.UTF_8))
                .getAsJsonObject();
        Map<String, String> ops = new LinkedHashMap<>();
        for (JsonElement e : doc.getAsJsonArray("ops")) {
          JsonObject o = e.getAsJsonObject();
          ops.put(o.get("op").getAsString(), o.has("why") ? o.get("why").getAsString() : "denied");
        }
        return new DenyList(Map.copyOf(ops));
      } catch (IOException e) {
        throw DeploykitException.loadFailed(what, "cannot read: " + e.getMessage());
      } catch (JsonParseException
          | IllegalStateException
          | ClassCastException
          | NullPointerException e) {
        throw DeploykitException.loadFailed(what, "malformed: " + e.getMessage());
      }
    }
  }

  /** One reachable node: its op, its name, and where it lives ("graph" or "function NAME"). */
  public record Node(String op, String name, String where, NodeDef def) {}

  /** Every node reachable from {@code rootTensors} ("node:index" or "node" names). */
  public static List<Node> reachable(GraphDef graph, Collection<String> rootTensors) {
    Map<String, NodeDef> nodes = new HashMap<>();
    graph.getNodeList().forEach(n -> nodes.put(n.getName(), n));
    Map<String, FunctionDef> functions = new HashMap<>();
    graph.getLibrary().getFunctionList().forEach(f -> functions.put(f.getSignature().getName(), f));

    List<Node> found = new ArrayList<>();
    Set<String> seenNodes = new HashSet<>();
    Set<String> seenFunctions = new HashSet<>();
    Deque<String> nodeQueue = new ArrayDeque<>();
    Deque<String> functionQueue = new ArrayDeque<>();
    rootTensors.forEach(t -> nodeQueue.add(nodeName(t)));

    while (!nodeQueue.isEmpty() || !functionQueue.isEmpty()) {
      while (!nodeQueue.isEmpty()) {
        String name = nodeQueue.poll();
        NodeDef node = nodes.get(name);
        if (node == null || !seenNodes.add(name)) {
          continue;
        }
        found.add(new Node(node.getOp(), name, "graph", node));
        calledFunctions(node, functions.keySet(), functionQueue);
        node.getInputList().forEach(input -> nodeQueue.add(nodeName(input)));
      }
      while (!functionQueue.isEmpty()) {
        String fname = functionQueue.poll();
        FunctionDef fn = functions.get(fname);
        if (fn == null || !seenFunctions.add(fname)) {
          continue;
        }
        for (NodeDef node : fn.getNodeDefList()) {
          found.add(new Node(node.getOp(), node.getName(), "function " + fname, node));
          calledFunctions(node, functions.keySet(), functionQueue);
        }
      }
    }
    return found;
  }

  /** The reachable nodes whose op is denied, op names kept in deny-list terms. */
  public static List<Node> denied(List<Node> reachable, DenyList denyList) {
    return reachable.stream().filter(n -> denyList.ops().containsKey(n.op())).toList();
  }

  private static void calledFunctions(NodeDef node, Set<String> library, Deque<String> queue) {
    if (library.contains(node.getOp())) {
      queue.add(node.getOp());
    }
    node.getAttrMap().values().forEach(v -> attrFunctions(v, queue));
  }

  private static void attrFunctions(AttrValue value, Deque<String> queue) {
    if (value.hasFunc()) {
      nameAttrList(value.getFunc(), queue);
    }
    if (value.hasList()) {
      value.getList().getFuncList().forEach(f -> nameAttrList(f, queue));
    }
  }

  private static void nameAttrList(NameAttrList f, Deque<String> queue) {
    queue.add(f.getName());
    f.getAttrMap().values().forEach(v -> attrFunctions(v, queue));
  }

  /** "^name" (control input), "name:0" and "name" all name the node "name". */
  static String nodeName(String tensor) {
    String t = tensor.startsWith("^") ? tensor.substring(1) : tensor;
    int colon = t.indexOf(':');
    return colon < 0 ? t : t.substring(0, colon);
  }
}
