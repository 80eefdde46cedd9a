// The peer for `make bench-proxy`: token usage metering of OpenAI chat completions (JSON and SSE
// answers) as a Go proxy-wasm plugin, the job Higress's ai-statistics plugin does, built the way
// Higress builds its Go plugins today: the upstream Go compiler (GOOS=wasip1 GOARCH=wasm
// -buildmode=c-shared), Higress's Go SDK (github.com/higress-group/proxy-wasm-go-sdk) and gjson for
// the JSON. It is written for this benchmark, not Higress's plugin: that plugin and its wrapper
// library (github.com/higress-group/wasm-go) are not served by the Go module proxy this project can
// reach (BENCHMARKS.md, "The peer").
//
// Per exchange: the request body is buffered and read once (model, stream flag); the response
// content type is read; a JSON answer is buffered and its `usage` read once at the end; an SSE answer
// is read chunk by chunk, cut into events, and each event's `data:` JSON is looked at for `usage`
// (and `model`). At the end of the response the prompt and completion tokens are added to two
// counters per model (`peer_meter.<model>.input_token`, `.output_token`) and the usage is exported as
// filter state (`wasm.peer_meter_usage`), as ai-statistics exports its attributes.
package main

import (
	"bytes"
	"strconv"

	"github.com/higress-group/proxy-wasm-go-sdk/proxywasm"
	"github.com/higress-group/proxy-wasm-go-sdk/proxywasm/types"
	"github.com/tidwall/gjson"
)

func main() {}

// Higress's SDK declares the module for ABI version 0.2.100, the version of Higress's own Envoy build,
// which stock Envoy refuses ("Missing or unknown Proxy-Wasm ABI version"). Every host function the
// module imports belongs to ABI 0.2.1 (proxy_get_header_map_value, proxy_get_buffer_bytes,
// proxy_set_effective_context, proxy_define_metric, proxy_increment_metric, proxy_set_property), so
// it also declares 0.2.1, which Envoy 1.40 runs; nothing else changes.
//
//go:wasmexport proxy_abi_version_0_2_1
func proxyABIVersion021() {}

func init() {
	proxywasm.SetVMContext(&vm{})
}

type vm struct{ types.DefaultVMContext }

func (*vm) NewPluginContext(uint32) types.PluginContext {
	return &plugin{counters: map[string][2]proxywasm.MetricCounter{}}
}

type plugin struct {
	types.DefaultPluginContext
	counters map[string][2]proxywasm.MetricCounter
}

func (p *plugin) NewHttpContext(uint32) types.HttpContext {
	return &exchange{plugin: p}
}

// counter returns the input and output token counters of a model, defined on first use.
func (p *plugin) counter(model string) [2]proxywasm.MetricCounter {
	c, ok := p.counters[model]
	if !ok {
		c = [2]proxywasm.MetricCounter{
			proxywasm.DefineCounterMetric("peer_meter." + model + ".input_token"),
			proxywasm.DefineCounterMetric("peer_meter." + model + ".output_token"),
		}
		p.counters[model] = c
	}
	return c
}

type exchange struct {
	types.DefaultHttpContext
	plugin   *plugin
	model    string
	stream   bool
	sse      bool
	pending  []byte // an SSE event not complete yet
	input    int64
	output   int64
	hasUsage bool
	recorded bool
}

func (e *exchange) OnHttpRequestBody(size int, endOfStream bool) types.Action {
	if !endOfStream {
		return types.ActionPause // buffer the whole request body
	}
	body, err := proxywasm.GetHttpRequestBody(0, size)
	if err != nil {
		return types.ActionContinue
	}
	e.model = gjson.GetBytes(body, "model").String()
	e.stream = gjson.GetBytes(body, "stream").Bool()
	return types.ActionContinue
}

func (e *exchange) OnHttpResponseHeaders(int, bool) types.Action {
	ct, _ := proxywasm.GetHttpResponseHeader("content-type")
	e.sse = bytes.Contains([]byte(ct), []byte("text/event-stream"))
	return types.ActionContinue
}

func (e *exchange) OnHttpResponseBody(size int, endOfStream bool) types.Action {
	if !e.sse {
		if !endOfStream {
			return types.ActionPause // buffer the JSON answer
		}
		body, err := proxywasm.GetHttpResponseBody(0, size)
		if err == nil {
			e.usage(body)
		}
		e.record()
		return types.ActionContinue
	}
	if size > 0 {
		chunk, err := proxywasm.GetHttpResponseBody(0, size)
		if err == nil {
			e.events(chunk)
		}
	}
	if endOfStream {
		e.record()
	}
	return types.ActionContinue
}

// events cuts complete SSE events out of the chunk (with what was pending) and reads each one.
func (e *exchange) events(chunk []byte) {
	data := chunk
	if len(e.pending) > 0 {
		data = append(e.pending, chunk...)
	}
	for {
		end := bytes.Index(data, []byte("\n\n"))
		if end < 0 {
			break
		}
		e.event(data[:end])
		data = data[end+2:]
	}
	e.pending = append(e.pending[:0], data...)
}

func (e *exchange) event(event []byte) {
	for _, line := range bytes.Split(event, []byte("\n")) {
		payload, ok := bytes.CutPrefix(line, []byte("data:"))
		if !ok {
			continue
		}
		payload = bytes.TrimSpace(payload)
		if len(payload) == 0 || payload[0] != '{' {
			continue // [DONE]
		}
		if m := gjson.GetBytes(payload, "model"); m.Exists() {
			e.model = m.String()
		}
		e.usage(payload)
	}
}

func (e *exchange) usage(body []byte) {
	u := gjson.GetBytes(body, "usage")
	if !u.Exists() || u.Type != gjson.JSON {
		return
	}
	e.input = u.Get("prompt_tokens").Int()
	e.output = u.Get("completion_tokens").Int()
	e.hasUsage = true
}

func (e *exchange) record() {
	if e.recorded || !e.hasUsage {
		return
	}
	e.recorded = true
	model := e.model
	if model == "" {
		model = "unknown"
	}
	c := e.plugin.counter(model)
	c[0].Increment(uint64(e.input))
	c[1].Increment(uint64(e.output))
	attrs := `{"model":"` + model + `","input_token":` + strconv.FormatInt(e.input, 10) +
		`,"output_token":` + strconv.FormatInt(e.output, 10) + `,"stream":` + strconv.FormatBool(e.sse) + `}`
	_ = proxywasm.SetProperty([]string{"wasm", "peer_meter_usage"}, []byte(attrs))
}
