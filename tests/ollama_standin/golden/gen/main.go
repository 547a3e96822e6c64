// Golden-data generator for the qwen3-deploy Ollama STAND-IN's Go-template port (NOT part of Ollama).
//
// It runs Go's real text/template plus transcriptions of ollama/ollama v0.33.0-rc2 template/template.go
// (Parse, Vars/Identifiers, Execute, collate, the template* value types) and thinking/template.go InferTags
// (copied verbatim into ./thinking by ../regen.sh) over ../cases.json and writes ../golden.json.
// tests/unit/test_ollama_standin_gotemplate.py compares the Python port against golden.json.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"text/template"
	"text/template/parse"

	"golden/thinking"
)

// ---- template/template.go funcs (date functions omitted: not deterministic)
var funcs = template.FuncMap{
	"json": func(v any) string { b, _ := json.Marshal(v); return string(b) },
}

var response = parse.ActionNode{NodeType: parse.NodeAction, Pipe: &parse.PipeNode{NodeType: parse.NodePipe,
	Cmds: []*parse.CommandNode{{NodeType: parse.NodeCommand, Args: []parse.Node{&parse.FieldNode{NodeType: parse.NodeField, Ident: []string{"Response"}}}}}}}

func identifiers(n parse.Node) []string {
	switch n := n.(type) {
	case *parse.ListNode:
		var names []string
		for _, c := range n.Nodes {
			names = append(names, identifiers(c)...)
		}
		return names
	case *parse.TemplateNode:
		return identifiers(n.Pipe)
	case *parse.ActionNode:
		return identifiers(n.Pipe)
	case *parse.BranchNode:
		names := identifiers(n.Pipe)
		for _, l := range []*parse.ListNode{n.List, n.ElseList} {
			if l != nil {
				names = append(names, identifiers(l)...)
			}
		}
		return names
	case *parse.IfNode:
		return identifiers(&n.BranchNode)
	case *parse.RangeNode:
		return identifiers(&n.BranchNode)
	case *parse.WithNode:
		return identifiers(&n.BranchNode)
	case *parse.PipeNode:
		var names []string
		for _, c := range n.Cmds {
			for _, a := range c.Args {
				names = append(names, identifiers(a)...)
			}
		}
		return names
	case *parse.FieldNode:
		return n.Ident
	case *parse.VariableNode:
		return n.Ident
	}
	return nil
}

func vars(t *template.Template) []string {
	set := map[string]bool{}
	for _, tt := range t.Templates() {
		for _, n := range tt.Root.Nodes {
			for _, v := range identifiers(n) {
				set[strings.ToLower(v)] = true
			}
		}
	}
	out := []string{}
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func parseTemplate(s string) (*template.Template, error) {
	t, err := template.New("").Option("missingkey=zero").Funcs(funcs).Parse(s)
	if err != nil {
		return nil, err
	}
	v := vars(t)
	if !contains(v, "messages") && !contains(v, "response") {
		t.Tree.Root.Nodes = append(t.Tree.Root.Nodes, &response)
	}
	return t, nil
}

// ---- template value types (template/template.go)
type PropertyType []string

func (pt PropertyType) MarshalJSON() ([]byte, error) {
	if len(pt) == 1 {
		return json.Marshal(pt[0])
	}
	return json.Marshal([]string(pt))
}

func (pt *PropertyType) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err == nil {
		*pt = []string{s}
		return nil
	}
	var a []string
	if err := json.Unmarshal(data, &a); err != nil {
		return err
	}
	*pt = a
	return nil
}

func (pt PropertyType) String() string {
	if len(pt) == 1 {
		return pt[0]
	}
	return fmt.Sprintf("%v", []string(pt))
}

type ToolProperty struct {
	AnyOf       []ToolProperty `json:"anyOf,omitempty"`
	Type        PropertyType   `json:"type,omitempty"`
	Items       any            `json:"items,omitempty"`
	Description string         `json:"description,omitempty"`
	Enum        []any          `json:"enum,omitempty"`
	Required    []string       `json:"required,omitempty"`
}

type templateTools []templateTool

func (t templateTools) String() string { b, _ := json.Marshal(t); return string(b) }

type templateArgs map[string]any

func (t templateArgs) String() string {
	if t == nil {
		return "{}"
	}
	b, _ := json.Marshal(t)
	return string(b)
}

type templateProperties map[string]ToolProperty

func (t templateProperties) String() string {
	if t == nil {
		return "{}"
	}
	b, _ := json.Marshal(t)
	return string(b)
}

func (t templateTool) String() string { b, _ := json.Marshal(t); return string(b) }

type templateTool struct {
	Type     string               `json:"type"`
	Items    any                  `json:"items,omitempty"`
	Function templateToolFunction `json:"function"`
}
type templateToolFunction struct {
	Name        string                         `json:"name"`
	Description string                         `json:"description"`
	Parameters  templateToolFunctionParameters `json:"parameters"`
}
type templateToolFunctionParameters struct {
	Type       string             `json:"type"`
	Defs       any                `json:"$defs,omitempty"`
	Items      any                `json:"items,omitempty"`
	Required   []string           `json:"required,omitempty"`
	Properties templateProperties `json:"properties"`
}
type templateToolCall struct {
	ID       string
	Function templateToolCallFunction
}
type templateToolCallFunction struct {
	Index     int
	Name      string
	Arguments templateArgs
}
type templateMessage struct {
	Role       string
	Content    string
	Thinking   string
	Images     []string
	ToolCalls  []templateToolCall
	ToolName   string
	ToolCallID string
}

// ---- case input
type inMessage struct {
	Role      string `json:"role"`
	Content   string `json:"content"`
	Thinking  string `json:"thinking"`
	ToolName  string `json:"tool_name"`
	ToolCalls []struct {
		Function struct {
			Name      string         `json:"name"`
			Arguments map[string]any `json:"arguments"`
		} `json:"function"`
	} `json:"tool_calls"`
}
type inTool struct {
	Type     string `json:"type"`
	Function struct {
		Name        string `json:"name"`
		Description string `json:"description"`
		Parameters  struct {
			Type       string                  `json:"type"`
			Required   []string                `json:"required"`
			Properties map[string]ToolProperty `json:"properties"`
		} `json:"parameters"`
	} `json:"function"`
}
type inValues struct {
	Messages []inMessage `json:"messages"`
	Tools    []inTool    `json:"tools"`
}
type cases struct {
	ParseChecks []string            `json:"parse_checks"`
	Templates   map[string]string   `json:"templates"`
	Values      map[string]inValues `json:"values"`
	Think       map[string]any      `json:"think"`
}

// collate (template/template.go)
func collate(msgs []inMessage) (string, []inMessage) {
	var system []string
	var collated []inMessage
	for _, m := range msgs {
		if m.Role == "system" {
			system = append(system, m.Content)
		}
		if len(collated) > 0 && collated[len(collated)-1].Role == m.Role && m.Role != "tool" {
			collated[len(collated)-1].Content += "\n\n" + m.Content
		} else {
			collated = append(collated, m)
		}
	}
	return strings.Join(system, "\n\n"), collated
}

func convertMessages(msgs []inMessage) []*templateMessage {
	var out []*templateMessage
	for _, m := range msgs {
		var calls []templateToolCall
		for i, c := range m.ToolCalls {
			calls = append(calls, templateToolCall{Function: templateToolCallFunction{Index: i, Name: c.Function.Name, Arguments: templateArgs(c.Function.Arguments)}})
		}
		out = append(out, &templateMessage{Role: m.Role, Content: m.Content, Thinking: m.Thinking, ToolCalls: calls, ToolName: m.ToolName})
	}
	return out
}

func convertTools(tools []inTool) templateTools {
	if tools == nil {
		return nil
	}
	var out templateTools
	for _, t := range tools {
		out = append(out, templateTool{Type: t.Type, Function: templateToolFunction{Name: t.Function.Name, Description: t.Function.Description,
			Parameters: templateToolFunctionParameters{Type: t.Function.Parameters.Type, Required: t.Function.Parameters.Required, Properties: templateProperties(t.Function.Parameters.Properties)}}})
	}
	return out
}

func deleteNode(n parse.Node, fn func(parse.Node) bool) parse.Node {
	var walk func(n parse.Node) parse.Node
	walk = func(n parse.Node) parse.Node {
		if fn(n) {
			return nil
		}
		switch t := n.(type) {
		case *parse.ListNode:
			var nodes []parse.Node
			for _, c := range t.Nodes {
				if n := walk(c); n != nil {
					nodes = append(nodes, n)
				}
			}
			t.Nodes = nodes
			return t
		case *parse.IfNode:
			t.BranchNode = *walk(&t.BranchNode).(*parse.BranchNode)
		case *parse.WithNode:
			t.BranchNode = *walk(&t.BranchNode).(*parse.BranchNode)
		case *parse.RangeNode:
			t.BranchNode = *walk(&t.BranchNode).(*parse.BranchNode)
		case *parse.BranchNode:
			t.List = walk(t.List).(*parse.ListNode)
			if t.ElseList != nil {
				t.ElseList = walk(t.ElseList).(*parse.ListNode)
			}
		case *parse.ActionNode:
			n := walk(t.Pipe)
			if n == nil {
				return nil
			}
			t.Pipe = n.(*parse.PipeNode)
		case *parse.PipeNode:
			var commands []*parse.CommandNode
			for _, c := range t.Cmds {
				var args []parse.Node
				for _, a := range c.Args {
					if n := walk(a); n != nil {
						args = append(args, n)
					}
				}
				if len(args) == 0 {
					return nil
				}
				c.Args = args
				commands = append(commands, c)
			}
			if len(commands) == 0 {
				return nil
			}
			t.Cmds = commands
		}
		return n
	}
	return walk(n)
}

// Execute (template/template.go), without the Prompt+Suffix branch
func execute(t *template.Template, v inValues, think any) (string, error) {
	thinkVal, level, isSet := false, "", think != nil
	switch x := think.(type) {
	case bool:
		thinkVal = x
		if x {
			level = "medium"
		}
	case string:
		thinkVal, level = true, x
	}
	system, msgs := collate(v.Messages)
	var b bytes.Buffer
	if contains(vars(t), "messages") {
		err := t.Execute(&b, map[string]any{"System": system, "Messages": convertMessages(msgs), "Tools": convertTools(v.Tools),
			"Response": "", "Think": thinkVal, "ThinkLevel": level, "IsThinkSet": isSet})
		return b.String(), err
	}
	system = ""
	var prompt, resp string
	run := func(tt *template.Template) error {
		err := tt.Execute(&b, map[string]any{"System": system, "Prompt": prompt, "Response": resp, "Think": thinkVal, "ThinkLevel": level, "IsThinkSet": isSet})
		system, prompt, resp = "", "", ""
		return err
	}
	for _, m := range msgs {
		switch m.Role {
		case "system":
			if prompt != "" || resp != "" {
				if err := run(t); err != nil {
					return "", err
				}
			}
			system = m.Content
		case "user":
			if resp != "" {
				if err := run(t); err != nil {
					return "", err
				}
			}
			prompt = m.Content
		case "assistant":
			resp = m.Content
		}
	}
	var cut bool
	nodes := deleteNode(t.Root.Copy(), func(n parse.Node) bool {
		if field, ok := n.(*parse.FieldNode); ok && contains(field.Ident, "Response") {
			cut = true
			return false
		}
		return cut
	})
	tree := parse.Tree{Root: nodes.(*parse.ListNode)}
	err := run(template.Must(template.New("").AddParseTree("", &tree)))
	return b.String(), err
}

func main() {
	raw, err := os.ReadFile("../cases.json")
	if err != nil {
		panic(err)
	}
	var c cases
	if err := json.Unmarshal(raw, &c); err != nil {
		panic(err)
	}
	out := map[string]any{"_about": "Written by gen/main.go with " + strings.TrimSpace(os.Getenv("GO_VERSION")) + " from cases.json; do not edit."}
	results := map[string]any{}
	for name, src := range c.Templates {
		r := map[string]any{}
		t, err := parseTemplate(src)
		if err != nil {
			r["parse_error"] = err.Error()
			results[name] = r
			continue
		}
		o, cl := thinking.InferTags(t)
		r["infer_tags"] = []string{o, cl}
		r["vars"] = vars(t)
		renders := map[string]any{}
		for vn, v := range c.Values {
			for tn, think := range c.Think {
				s, err := execute(t, v, think)
				if err != nil {
					renders[vn+"/"+tn] = map[string]string{"error": err.Error()}
				} else {
					renders[vn+"/"+tn] = s
				}
			}
		}
		r["renders"] = renders
		results[name] = r
	}
	out["results"] = results
	parses := map[string]any{}
	for _, src := range c.ParseChecks {
		t, err := template.New("").Option("missingkey=zero").Funcs(funcs).Parse(src)
		if err != nil {
			parses[src] = map[string]string{"error": err.Error()}
			continue
		}
		var b bytes.Buffer
		if err := t.Execute(&b, map[string]any{"A": []string{"a"}}); err != nil {
			parses[src] = map[string]string{"exec_error": err.Error()}
		} else {
			parses[src] = b.String()
		}
	}
	out["parse_checks"] = parses
	enc, _ := json.MarshalIndent(out, "", " ")
	if err := os.WriteFile("../golden.json", append(enc, '\n'), 0o644); err != nil {
		panic(err)
	}
}
