package tfmodel

import (
	"fmt"
	"sort"
	"strings"

	attrpb "github.com/wamuir/graft/tensorflow/core/framework/attr_value_go_proto"
	funcpb "github.com/wamuir/graft/tensorflow/core/framework/function_go_proto"
	nodepb "github.com/wamuir/graft/tensorflow/core/framework/node_def_go_proto"
	corepb "github.com/wamuir/graft/tensorflow/core/protobuf/for_core_protos_go_proto"

	"github.com/deploykit/deploykit/go/manifest"
)

// UnsafeOp is one denied op found in a model, with where it was found.
type UnsafeOp struct {
	Op    string
	Why   string
	Where []string // "graph" or "function <name>", sorted
}

// UnsafeOpsError reports denied ops reachable from the served signature. It matches
// errors.Is(err, ErrUnsafeOps).
type UnsafeOpsError struct {
	Signature string
	Ops       []UnsafeOp // sorted by op name
}

func (e *UnsafeOpsError) Error() string {
	parts := make([]string, len(e.Ops))
	for i, o := range e.Ops {
		parts[i] = fmt.Sprintf("%s (%s; in %s)", o.Op, o.Why, strings.Join(o.Where, ", "))
	}
	return fmt.Sprintf("%d denied op(s) reachable from signature %q: %s; pass --allow-unsafe-ops (AllowUnsafeOps) to run it anyway",
		len(e.Ops), e.Signature, strings.Join(parts, "; "))
}

// Is makes errors.Is(err, ErrUnsafeOps) true.
func (e *UnsafeOpsError) Is(target error) bool { return target == ErrUnsafeOps }

// initOpCollections name the ops the SavedModel loader itself runs after restoring the
// variables (TF1 and TF2 spellings). They run at load, so they are checked like the signature.
var initOpCollections = []string{"saved_model_main_op", "saved_model_init_op", "legacy_init_op"}

// initOpSignature is the TF2 signature key of the init op.
const initOpSignature = "__saved_model_init_op"

// reachableOps returns every op type that running the signature (and the loader's init op)
// can execute, with where each was found: the graph nodes the signature's outputs depend on
// through data and control inputs, and every node of every function those nodes reference,
// through func attrs (StatefulPartitionedCall's f, If/While branches, XlaCallModule's
// function_list, ...) or by calling a function by name, recursively. Function bodies are
// taken whole: a function's stateful ops run whether or not they feed its outputs.
//
// The saver subgraph (SaveV2/RestoreV2 behind saver_def) is not reachable from the
// signature, so a plain Keras model passes.
func reachableOps(mg *corepb.MetaGraphDef, sig *corepb.SignatureDef) map[string]map[string]bool {
	gd := mg.GetGraphDef()
	nodes := map[string]*nodepb.NodeDef{}
	for _, n := range gd.GetNode() {
		nodes[n.GetName()] = n
	}
	funcs := map[string]*funcpb.FunctionDef{}
	for _, f := range gd.GetLibrary().GetFunction() {
		funcs[f.GetSignature().GetName()] = f
	}

	found := map[string]map[string]bool{} // op -> where
	note := func(op, where string) {
		if found[op] == nil {
			found[op] = map[string]bool{}
		}
		found[op][where] = true
	}

	seenFunc := map[string]bool{}
	var funcQueue []string
	useFunc := func(name string) {
		if name != "" && !seenFunc[name] {
			seenFunc[name] = true
			funcQueue = append(funcQueue, name)
		}
	}
	// visitNode notes a node's op and queues the functions it names.
	visitNode := func(n *nodepb.NodeDef, where string) {
		note(n.GetOp(), where)
		if _, ok := funcs[n.GetOp()]; ok {
			useFunc(n.GetOp())
		}
		for _, a := range n.GetAttr() {
			attrFuncs(a, useFunc)
		}
	}

	// Graph nodes reachable backwards from the roots.
	var roots []string
	for _, ti := range sig.GetOutputs() {
		roots = append(roots, ti.GetName())
	}
	if s, ok := mg.GetSignatureDef()[initOpSignature]; ok {
		for _, ti := range s.GetOutputs() {
			roots = append(roots, ti.GetName())
		}
	}
	for _, c := range initOpCollections {
		roots = append(roots, mg.GetCollectionDef()[c].GetNodeList().GetValue()...)
	}
	seenNode := map[string]bool{}
	stack := make([]string, 0, len(roots))
	for _, r := range roots {
		stack = append(stack, nodeName(r))
	}
	for len(stack) > 0 {
		name := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seenNode[name] {
			continue
		}
		seenNode[name] = true
		n, ok := nodes[name]
		if !ok {
			continue // a dangling name is the loader's problem, not an op we could run
		}
		visitNode(n, "graph")
		for _, in := range n.GetInput() {
			stack = append(stack, nodeName(in))
		}
	}

	// Every node of every function reached, recursively.
	for len(funcQueue) > 0 {
		name := funcQueue[0]
		funcQueue = funcQueue[1:]
		f := funcs[name]
		if f == nil {
			continue
		}
		for _, a := range f.GetAttr() {
			attrFuncs(a, useFunc)
		}
		for _, n := range f.GetNodeDef() {
			visitNode(n, "function "+name)
		}
	}
	return found
}

// attrFuncs calls use for every function an attr value names, including inside the attrs
// of a NameAttrList.
func attrFuncs(a *attrpb.AttrValue, use func(string)) {
	walk := func(f *attrpb.NameAttrList) {
		if f == nil {
			return
		}
		use(f.GetName())
		for _, inner := range f.GetAttr() {
			attrFuncs(inner, use)
		}
	}
	walk(a.GetFunc())
	for _, f := range a.GetList().GetFunc() {
		walk(f)
	}
}

// nodeName strips the control marker and output index: "^a", "a:0", "a:out:1" -> "a".
func nodeName(tensor string) string {
	tensor = strings.TrimPrefix(tensor, "^")
	if i := strings.IndexByte(tensor, ':'); i >= 0 {
		return tensor[:i]
	}
	return tensor
}

// checkOps returns an *UnsafeOpsError when any reachable op is on the deny-list.
func checkOps(mg *corepb.MetaGraphDef, sigKey string, sig *corepb.SignatureDef, deny *manifest.DenyList) error {
	var bad []UnsafeOp
	for op, where := range reachableOps(mg, sig) {
		why, denied := deny.Why(op)
		if !denied {
			continue
		}
		u := UnsafeOp{Op: op, Why: why}
		for w := range where {
			u.Where = append(u.Where, w)
		}
		sort.Strings(u.Where)
		bad = append(bad, u)
	}
	if len(bad) == 0 {
		return nil
	}
	sort.Slice(bad, func(i, j int) bool { return bad[i].Op < bad[j].Op })
	return &UnsafeOpsError{Signature: sigKey, Ops: bad}
}
