package options

import "slices"

// These accessors expose the option tables themselves, not copies typed
// out elsewhere, so that a test can hold README.md and the manual pages
// to what the programs accept: a letter or key added or removed here then
// fails the documentation check until the documents follow.

// ServerLetters returns tentacle_server's option letters, in table order.
func ServerLetters() []byte { return serverOptions.letterBytes() }

// ClientLetters returns tentacle_client's option letters, in table order.
func ClientLetters() []byte { return clientOptions.letterBytes() }

// ServerConfigKeys returns every key a tentacle_server -F file may hold,
// sorted.
func ServerConfigKeys() []string {
	keys := make([]string, 0, len(serverKeys))
	for k := range serverKeys {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func (set optionSet) letterBytes() []byte {
	out := make([]byte, len(set))
	for i, o := range set {
		out[i] = o.letter
	}
	return out
}
