package tfmodel

import (
	"testing"

	corepb "github.com/wamuir/graft/tensorflow/core/protobuf/for_core_protos_go_proto"
)

// TestSessionConfig: ops run on the calling thread always; the remapper is off unless oneDNN's
// rewrites are off (TF_ENABLE_ONEDNN_OPTS=0, what the launcher sets).
func TestSessionConfig(t *testing.T) {
	for _, tc := range []struct {
		env      string
		remapOff bool
	}{{"0", false}, {"", true}, {"1", true}} {
		c := sessionConfig(tc.env)
		if c.GetInterOpParallelismThreads() != -1 {
			t.Errorf("TF_ENABLE_ONEDNN_OPTS=%q: inter_op_parallelism_threads %d, want -1", tc.env, c.GetInterOpParallelismThreads())
		}
		off := c.GetGraphOptions().GetRewriteOptions().GetRemapping() == corepb.RewriterConfig_OFF
		if off != tc.remapOff {
			t.Errorf("TF_ENABLE_ONEDNN_OPTS=%q: remapper off %v, want %v", tc.env, off, tc.remapOff)
		}
	}
}
