package standardize

import (
	"fmt"
	"slices"
	"strings"

	"github.com/kenner-cdp/kenner/jsonobj"
)

// Kind is a standard form a value can be brought to.
type Kind string

// The kinds of values that have a standard form; KindNone leaves a field as sent.
const (
	KindEmail    Kind = "email"
	KindPhone    Kind = "phone"
	KindName     Kind = "name"
	KindCountry  Kind = "country"
	KindDate     Kind = "date"
	KindCurrency Kind = "currency"
	KindAmount   Kind = "amount"
	KindBool     Kind = "boolean"
	KindNone     Kind = "none"
)

// Kinds lists every kind a rule may name.
var Kinds = []Kind{KindEmail, KindPhone, KindName, KindCountry, KindDate, KindCurrency, KindAmount, KindBool, KindNone}

// defaultTraits are the forms of the traits Segment's spec names and their common variants,
// keyed by folded name (see foldName). They apply at any depth, so address.country is a country.
var defaultTraits = map[string]Kind{
	"email": KindEmail, "emailaddress": KindEmail,
	"phone": KindPhone, "phonenumber": KindPhone, "mobile": KindPhone, "mobilephone": KindPhone,
	"mobilenumber": KindPhone, "cellphone": KindPhone, "telephone": KindPhone,
	"name": KindName, "firstname": KindName, "lastname": KindName, "fullname": KindName, "middlename": KindName,
	"country": KindCountry, "countrycode": KindCountry,
	"birthday": KindDate, "dateofbirth": KindDate, "createdat": KindDate,
	"currency": KindCurrency,
}

// defaultProperties are the forms of event properties: Segment's e-commerce spec's money
// fields and currency. Names are not standardized in properties: "name" there is a product's.
var defaultProperties = map[string]Kind{
	"email": KindEmail, "phone": KindPhone, "country": KindCountry, "currency": KindCurrency,
	"revenue": KindAmount, "price": KindAmount, "total": KindAmount, "subtotal": KindAmount,
	"value": KindAmount, "tax": KindAmount, "shipping": KindAmount, "discount": KindAmount,
}

// Rules says which traits and properties take which standard form.
type Rules struct {
	traits, properties map[string]Kind
	region             string
}

// NewRules returns the default rules with overrides (field name → kind; "none" turns a
// default off) applied to traits and properties alike. region is the default country of
// phone numbers written without a country code.
func NewRules(overrides map[string]string, region string) (*Rules, error) {
	r := &Rules{traits: map[string]Kind{}, properties: map[string]Kind{}, region: strings.ToUpper(region)}
	for k, v := range defaultTraits {
		r.traits[k] = v
	}
	for k, v := range defaultProperties {
		r.properties[k] = v
	}
	for name, kind := range overrides {
		k := Kind(strings.ToLower(strings.TrimSpace(kind)))
		if !slices.Contains(Kinds, k) {
			return nil, fmt.Errorf("standardize %s: unknown kind %q (want one of %s)", name, kind, kindList())
		}
		f := foldName(name)
		if f == "" {
			return nil, fmt.Errorf("standardize: empty field name")
		}
		r.traits[f], r.properties[f] = k, k
	}
	return r, nil
}

func kindList() string {
	s := make([]string, len(Kinds))
	for i, k := range Kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

// foldName makes "first_name", "firstName", "First Name" and "first-name" the same key.
func foldName(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z':
			b.WriteByte(c + 'a' - 'A')
		case c == '_' || c == '-' || c == ' ' || c == '.':
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Problem is a value that has no standard form of its kind; it is kept as sent.
type Problem struct {
	Field  string // dotted path, such as traits.phone
	Kind   Kind
	Reason string
}

func (p Problem) String() string {
	return fmt.Sprintf("%s is not a valid %s (%s); kept as sent", p.Field, p.Kind, p.Reason)
}

// Result is what standardizing one object did.
type Result struct {
	// Original holds the values that were changed, as they were sent, at the same paths: a
	// JSON object, or nil when nothing changed.
	Original []byte
	Problems []Problem
}

// Traits standardizes a traits object (of identify, group or context.traits) at any depth.
// prefix names the object in problems ("traits").
func (r *Rules) Traits(raw []byte, prefix string) ([]byte, Result) {
	return r.object(raw, r.traits, prefix, 0)
}

// Properties standardizes an event's properties.
func (r *Rules) Properties(raw []byte, prefix string) ([]byte, Result) {
	return r.object(raw, r.properties, prefix, 0)
}

// maxDepth bounds the walk: customer data nests an address or two, not a tree.
const maxDepth = 4

func (r *Rules) object(raw []byte, table map[string]Kind, prefix string, depth int) ([]byte, Result) {
	var res Result
	if !jsonobj.IsObject(raw) || depth > maxDepth {
		return raw, res
	}
	obj, err := jsonobj.Parse(raw)
	if err != nil {
		return raw, res
	}
	var orig jsonobj.Object
	changed := false
	currency := ""
	if c, ok := obj.GetString("currency"); ok {
		currency, _ = Currency(c)
	}
	var buf [64]byte
	for i, f := range obj {
		path := prefix + "." + f.Key
		if jsonobj.IsObject(f.Value) {
			v, sub := r.object(f.Value, table, path, depth+1)
			res.Problems = append(res.Problems, sub.Problems...)
			if sub.Original != nil {
				obj[i].Value, changed = v, true
				orig = append(orig, jsonobj.Field{Key: f.Key, Value: sub.Original})
			}
			continue
		}
		kind, ok := table[string(appendFold(buf[:0], f.Key))]
		if !ok || kind == KindNone {
			continue
		}
		v, err := r.value(kind, f.Value, currency)
		if err != nil {
			res.Problems = append(res.Problems, Problem{Field: path, Kind: kind, Reason: err.Error()})
			continue
		}
		if v != nil && string(v) != string(f.Value) {
			obj[i].Value, changed = v, true
			orig = append(orig, f)
		}
	}
	if !changed {
		return raw, res
	}
	res.Original = orig.Encode()
	return obj.Encode(), res
}

// appendFold is foldName without an allocation, for map lookups on the hot path.
func appendFold(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z':
			b = append(b, c+'a'-'A')
		case c == '_' || c == '-' || c == ' ' || c == '.':
		default:
			b = append(b, c)
		}
	}
	return b
}

// value returns the standard form of one JSON value, nil to leave it as it is (null, or a
// type the kind does not apply to), or an error when it has none.
func (r *Rules) value(kind Kind, raw []byte, currency string) ([]byte, error) {
	s, isString := jsonobj.String(raw)
	if !isString {
		if kind == KindPhone && len(raw) > 0 && raw[0] >= '0' && raw[0] <= '9' {
			s, isString = string(raw), true // a spreadsheet turned the number into a number
		} else {
			return nil, nil
		}
	}
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out string
	var err error
	switch kind {
	case KindEmail:
		out, err = Email(s)
	case KindPhone:
		out, err = Phone(s, r.region)
	case KindName:
		out = Name(s)
	case KindCountry:
		out, err = Country(s)
	case KindDate:
		out, err = Date(s, "")
	case KindCurrency:
		out, err = Currency(s)
	case KindAmount:
		if out, err = Amount(s, currency); err != nil {
			return nil, err
		}
		return []byte(out), nil // a decimal, written as a JSON number
	case KindBool:
		b, err := Bool(s)
		if err != nil {
			return nil, err
		}
		if b {
			return []byte("true"), nil
		}
		return []byte("false"), nil
	default:
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return jsonobj.AppendString(nil, out), nil
}
