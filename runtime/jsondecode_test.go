package runtime

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// jsonDecodeOptions are the unmarshal options the handler and client use.
var jsonDecodeOptions = []protojson.UnmarshalOptions{{}, {DiscardUnknown: true}, {RecursionLimit: 3}}

// checkJSONReadLikeProtojson fails if JSONCodec reads in differently from
// protojson with the same options: both fail, or both give equal messages.
// It returns whether the fast path took the input.
func checkJSONReadLikeProtojson(t *testing.T, md protoreflect.MessageDescriptor, in []byte) (fast bool) {
	t.Helper()
	for _, o := range jsonDecodeOptions {
		want := dynamicpb.NewMessage(md)
		wantErr := o.Unmarshal(in, want)
		got := dynamicpb.NewMessage(md)
		got.Set(md.Fields().ByName("f_int32"), protoreflect.ValueOfInt32(99)) // must be reset
		gotErr := (&JSONCodec{UnmarshalOptions: o}).Unmarshal(in, got)
		if (wantErr != nil) != (gotErr != nil) {
			t.Fatalf("%+v: %q: error %v, protojson's %v", o, in, gotErr, wantErr)
		}
		if wantErr == nil && !proto.Equal(got, want) {
			t.Fatalf("%+v: %q:\n got %v\nwant %v", o, in, got, want)
		}
		if o == (protojson.UnmarshalOptions{}) {
			fast = unmarshalJSONFast(&o, in, dynamicpb.NewMessage(md)) == nil
			if fast && wantErr != nil {
				t.Fatalf("%q: the fast path took what protojson refuses: %v", in, wantErr)
			}
		}
	}
	return fast
}

// jsonDecodeSeeds are inputs on either side of what the fast path takes.
var jsonDecodeSeeds = []struct {
	in   string
	fast bool
}{
	{`{}`, true},
	{` { } `, true},
	{`{"fDouble":1e-7,"rDouble":[0,-0,1e21,123456789.125,5e-324],"fFloat":3.4e38,"fInt64":"-9223372036854775808","fUint64":18446744073709551615,` +
		`"fInt32":-7,"f_fixed32":"42","fBool":true,"fString":"é <&> ok","fBytes":"AP/+YQ==","fEnum":7,"rEnum":["COLOUR_BLUE",0],` +
		`"fChild":{"name":"c","data":"eA"},"rChild":[{"name":"a"},{}],"fSelf":{"choiceText":"inner","fSelf":{}},"choiceChild":{},"oInt32":0}`, true},
	{`{"fBytes":"_-8"}`, true},
	{`{"fBytes":"","rBytes":["","AA","AA==","+/8="]}`, true},
	{"{\"fBytes\":\"AA\nAA\"}", false}, // a raw line break, which base64 would skip
	{"{\"fBytes\":\"AA\rAA\"}", false},
	{`{"fBytes":"\u0041A=="}`, false}, // escape
	{`{"fBytes":"+-8"}`, false},       // both alphabets
	{"{\"fBytes\":\"\u00e9A\"}", false},
	{`{"fChild":null,"rInt32":null,"choiceText":null,"choiceChild":{}}`, true},
	{"{\"fString\":\"tab\\t\"}", false},            // escape
	{`{"fString":"bad ` + "\xff" + `"}`, false},    // invalid UTF-8
	{`{"nope":1}`, false},                          // unknown field
	{`{"fInt32":1,"f_int32":2}`, false},            // duplicate
	{`{"choiceText":"a","choiceChild":{}}`, false}, // oneof twice
	{`{"fInt32":1.0}`, false},
	{`{"fInt32":1e2}`, false},
	{`{"fInt32":-0}`, false},
	{`{"fInt32":01}`, false},
	{`{"fInt32":2147483648}`, false},
	{`{"fUint32":-1}`, false},
	{`{"fInt64":" 1"}`, false},
	{`{"fFloat":3.5e38}`, false},
	{`{"fDouble":"NaN"}`, false},
	{`{"fBool":"true"}`, false},
	{`{"fBool":truex}`, false},
	{`{"fEnum":"COLOUR_RED"}`, false},
	{`{"fEnum":"1"}`, false},
	{`{"fBytes":"a"}`, false},
	{`{"rInt32":[1,null]}`, false},
	{`{"rInt32":[1,]}`, false},
	{`{"fInt32":1,}`, false},
	{`{"fInt32":1}x`, false},
	{`{"fInt32":1`, false},
	{`[]`, false},
	{`{"fSelf":{"fSelf":{"fSelf":{"fSelf":{}}}}}`, true}, // deeper than RecursionLimit 3: protojson's error
}

func TestJSONCodecUnmarshalLikeProtojson(t *testing.T) {
	md := jsonTestFile(t).Messages().ByName("Plain")
	// As deep as the fast path goes: jsonMaxDepth+1 messages, one more
	// than a RecursionLimit of jsonMaxDepth lets protojson read.
	deep := []byte(strings.Repeat(`{"fSelf":`, jsonMaxDepth) + "{}" + strings.Repeat("}", jsonMaxDepth))
	for limit, wantErr := range map[int]bool{jsonMaxDepth: true, jsonMaxDepth + 1: false, 0: false} {
		o := protojson.UnmarshalOptions{RecursionLimit: limit}
		err := (&JSONCodec{UnmarshalOptions: o}).Unmarshal(deep, dynamicpb.NewMessage(md))
		if (err != nil) != wantErr || (o.Unmarshal(deep, dynamicpb.NewMessage(md)) != nil) != wantErr {
			t.Errorf("RecursionLimit %d: error %v, want one: %v", limit, err, wantErr)
		}
	}
	for _, s := range jsonDecodeSeeds {
		if fast := checkJSONReadLikeProtojson(t, md, []byte(s.in)); fast != s.fast {
			t.Errorf("%s: fast path %v, want %v", s.in, fast, s.fast)
		}
	}
}

// FuzzJSONCodecUnmarshal checks that JSONCodec reads any input into
// test.Plain as protojson does.
func FuzzJSONCodecUnmarshal(f *testing.F) {
	md := jsonTestFile(f).Messages().ByName("Plain")
	for _, s := range jsonDecodeSeeds {
		f.Add([]byte(s.in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return // the empty message, by the codec's own rule
		}
		checkJSONReadLikeProtojson(t, md, in)
	})
}
