package emit

import "reflect"

// Redact applies redact to every text of the payload in place — every string field at any
// depth, label names included — so that a field added later is covered without being listed
// here.
func (p *Payload) Redact(redact func(string) string) {
	if p == nil || redact == nil {
		return
	}
	redactValue(reflect.ValueOf(&p.Data).Elem(), redact)
}

func redactValue(v reflect.Value, redact func(string) string) {
	switch v.Kind() {
	case reflect.String:
		if v.CanSet() {
			v.SetString(redact(v.String()))
		}
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			redactValue(v.Elem(), redact)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				redactValue(v.Field(i), redact)
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			redactValue(v.Index(i), redact)
		}
	case reflect.Map:
		if v.IsNil() || !v.CanSet() {
			return
		}
		out := reflect.MakeMapWithSize(v.Type(), v.Len())
		iter := v.MapRange()
		for iter.Next() {
			k := reflect.New(v.Type().Key()).Elem()
			k.Set(iter.Key())
			redactValue(k, redact)
			e := reflect.New(v.Type().Elem()).Elem()
			e.Set(iter.Value())
			redactValue(e, redact)
			out.SetMapIndex(k, e)
		}
		v.Set(out)
	}
}
