package redact

import "strings"

// keyKind is what the name of a key says about its value: the key of a
// config assignment ("api_key=..."), of a header ("X-Api-Key: ...") or of a
// JSON object member ({"password": "..."}).
type keyKind uint8

const (
	keyOther      keyKind = iota
	keyAPIKey             // the value is an API key, token or other secret
	keyPassword           // the value is a password
	keyPhone              // the value is a phone number
	keyNationalID         // the value is a national id number
	keyName               // the value is a person's name (a field that holds nothing else)
	keyNameMaybe          // the value may be a person's name: "name", which names products too
	keyAddress            // the value is a street address
	keyDOB                // the value is a date of birth
	keyPassport           // the value is a passport number
	keyCard               // the value is a payment card number
	keyIBAN               // the value is a bank account number
	keyEmail              // the value is an email address
	numKeyKinds
)

// namedKeys are key names, normalized as classifyKey does, whose kind is
// known by the whole name, in the languages of the gazetteer's locales.
var namedKeys = func() map[string]keyKind {
	m := map[string]keyKind{}
	add := func(k keyKind, names ...string) {
		for _, n := range names {
			m[n] = k
		}
	}
	add(keyName, "fullname", "firstname", "lastname", "givenname", "familyname", "surname", "middlename", "forename", "customername",
		"clientname", "contactname", "holdername", "cardholder", "cardholdername", "accountholder", "accountholdername", "holder",
		"recipient", "recipientname", "passenger", "passengername", "patientname", "displayname", "signer", "signatory", "beneficiary",
		"beneficiaryname", "payee", "payeename", "sendername", "travellername", "travelername", "guestname", "employeename",
		"applicantname", "ownername", "legalname", "contactperson", "nom", "prenom", "prénom", "nomcomplet", "nombre", "nombrecompleto",
		"apellido", "apellidos", "nome", "cognome", "nomecompleto", "naam", "achternaam", "voornaam", "volledigenaam", "nazwisko", "imie",
		"imię", "namn", "fornamn", "förnamn", "efternamn", "navn", "fornavn", "efternavn", "isim", "ad", "soyad", "soyadı", "adsoyad",
		"имя", "фамилия", "отчество", "фио", "姓名", "氏名", "名前", "お名前", "이름", "성명", "고객명", "vorname", "nachname",
		"kundenname", "patient", "contact")
	add(keyNameMaybe, "name", "customer", "client", "author", "user", "owner", "person")
	add(keyAddress, "address", "addr", "streetaddress", "shippingaddress", "billingaddress", "homeaddress", "deliveryaddress",
		"mailingaddress", "postaladdress", "residentialaddress", "addressline", "addressline1", "addressline2", "address1", "address2",
		"street", "streetline", "street1", "street2", "adresse", "anschrift", "lieferadresse", "direccion", "dirección", "domicilio",
		"indirizzo", "endereco", "endereço", "morada", "adres", "adress", "adresa", "адрес", "住所", "地址", "주소", "strasse", "straße")
	add(keyDOB, "dob", "dateofbirth", "birthdate", "birthday", "birthdt", "bday", "geburtsdatum", "geburtstag", "fechanacimiento",
		"fechadenacimiento", "datanascita", "datadinascita", "datenaissance", "datedenaissance", "geboortedatum", "dataurodzenia",
		"fodelsedatum", "födelsedatum", "fodselsdato", "fødselsdato", "dogumtarihi", "doğumtarihi", "датарождения", "生年月日", "出生日期",
		"생년월일", "datanascimento", "datadenascimento")
	add(keyPassport, "passport", "passportnumber", "passportno", "passportnum", "passportid", "passportnr", "reisepass",
		"reisepassnummer", "passnummer", "passeport", "numeropasseport", "pasaporte", "numeropasaporte", "passaporto", "paspoort",
		"paspoortnummer", "paszport", "pasaport", "passaporte", "паспорт", "护照", "护照号码", "パスポート番号", "여권번호",
		"documentnumber", "docnumber", "docno", "traveldocument", "traveldocumentnumber")
	add(keyNationalID, "ssn", "socialsecuritynumber", "socialsecurityno", "nino", "nationalinsurancenumber", "nationalinsuranceno",
		"nationalid", "nationalidnumber", "nationalidentifier", "taxid", "taxnumber", "tin", "cpf", "pesel", "bsn", "burgerservicenummer",
		"personnummer", "personalnumber", "codicefiscale", "nir", "numerosecuritesociale", "dni", "nie", "nif", "cpr", "cprnummer",
		"tckn", "tckimlikno", "tcno", "kimlikno", "inn", "snils", "aadhaar", "aadhar", "sin", "idnumber", "personalid", "personalidnumber",
		"steuerid", "steueridentifikationsnummer", "hetu", "fodselsnummer", "fødselsnummer", "curp", "rut", "cnp", "ahv", "avs",
		"identitynumber", "identificationnumber", "idcard", "idcardnumber", "ninumber", "tckimlik", "nss", "numerosecu",
		"securitesociale", "sécuritésociale", "cf", "身份证", "身份证号", "주민등록번호", "инн", "снилс")
	add(keyPhone, "phone", "phonenumber", "phoneno", "mobile", "mobilenumber", "mobilephone", "tel", "telephone", "cell", "cellphone",
		"cellnumber", "fax", "msisdn", "whatsapp", "contactnumber", "contactphone", "homephone", "workphone", "telefon", "telefonnummer",
		"handy", "telefono", "teléfono", "movil", "móvil", "celular", "cellulare", "telefone", "telefoon", "mobiel", "téléphone",
		"portable", "telefonu", "телефон", "電話番号", "电话", "手机", "전화번호", "휴대폰", "sms", "to", "from")
	add(keyCard, "card", "cardnumber", "cardno", "cardnum", "creditcard", "creditcardnumber", "ccnumber", "cc", "ccnum", "pan",
		"debitcard", "kartennummer", "numerocarte", "numerotarjeta", "numerocarta")
	add(keyIBAN, "iban", "ibannumber", "bankaccount", "bankaccountnumber", "accountnumber", "rib", "kontonummer", "rekeningnummer")
	add(keyEmail, "email", "emailaddress", "mail", "mailaddress", "emailadresse", "correo", "courriel", "posta")
	add(keyPassword, "pass", "pin", "pincode", "passcode", "passwort", "kennwort", "motdepasse", "contraseña", "contrasena", "senha",
		"wachtwoord", "hasło", "haslo", "lösenord", "losenord", "adgangskode", "şifre", "sifre", "parola", "пароль", "パスワード", "密码",
		"비밀번호", "smtppass", "dbpass", "mysqlpass")
	add(keyAPIKey, "sessionid", "session", "sid", "jsessionid", "phpsessid", "connectsid", "sessid", "sessionkey", "sessiontoken",
		"authcookie", "laravelsession", "auth", "remembertoken", "rememberme", "xsrftoken")
	return m
}()

// maxKeyName is the longest key name classified; longer names are not
// config keys.
const maxKeyName = 64

// classifyKey returns what the name of a key says about its value. Names
// are compared after lower-casing them and dropping "_", "-", "." and
// spaces, so that "apiKey", "API_KEY", "x-api-key" and "openai.api_key"
// all read "...apikey". Secrets are recognized by the end of the name:
//
//   - passwords: ...password, ...passwd, ...pwd, ...passphrase;
//   - keys and tokens: ...apikey, ...secretkey, ...accesskey,
//     ...privatekey, ...signingkey, ...encryptionkey, ...masterkey,
//     ...token, ...secret, ...credential(s). Plain "key" is not one:
//     {"key": "env"} is a name, not a secret;
//
// and phone numbers and national ids by the whole name: phone,
// phonenumber, mobile, mobilenumber, tel, telephone, cell, cellphone, fax,
// msisdn, whatsapp; ssn, socialsecuritynumber, nino,
// nationalinsurancenumber, nationalid, nationalidnumber.
func classifyKey(name string) keyKind {
	if len(name) > maxKeyName {
		return keyOther
	}
	if k := namedKind(name); k != keyOther {
		return k
	}
	// The last three letters pick the few names to compare; most keys of
	// JSON arguments match no case and are never normalized.
	tail := lastLetters(name)
	switch string(tail[:]) {
	case "ord", "swd", "pwd", "ase", "key", "ken", "ret", "ial", "als",
		"one", "ber", "ile", "tel", "ell", "fax", "sdn", "app", "ssn", "ino", "lid":
	default:
		return keyOther
	}
	var buf [maxKeyName]byte
	n := 0
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c == '_' || c == '-' || c == '.' || c == ' ' {
			continue
		}
		buf[n] = lower(c)
		n++
	}
	if n < 3 {
		return keyOther
	}
	norm := buf[:n]
	switch string(norm[n-3:]) {
	case "ord", "swd", "pwd", "ase":
		if endsWithAny(norm, "password", "passwd", "pwd", "passphrase") {
			return keyPassword
		}
	case "key":
		if endsWithAny(norm, "apikey", "secretkey", "accesskey", "privatekey", "signingkey", "encryptionkey", "masterkey") {
			return keyAPIKey
		}
	case "ken", "ret", "ial", "als":
		if endsWithAny(norm, "token", "secret", "credential", "credentials") && !paginationToken(norm) {
			return keyAPIKey
		}
	case "one", "ber", "ile", "tel", "ell", "fax", "sdn", "app":
		if isAnyOf(norm, "phone", "phonenumber", "mobile", "mobilenumber", "tel", "telephone", "cell", "cellphone", "fax", "msisdn", "whatsapp") {
			return keyPhone
		}
		if isAnyOf(norm, "socialsecuritynumber", "nationalinsurancenumber", "nationalidnumber") {
			return keyNationalID
		}
	case "ssn", "ino", "lid":
		if isAnyOf(norm, "ssn", "nino", "nationalid") {
			return keyNationalID
		}
	}
	return keyOther
}

// lastLetters returns the last three bytes of a key name that are not
// separators ("_", "-", ".", " "), in lower case, or zeros when there are
// fewer.
func lastLetters(name string) [3]byte {
	var t [3]byte
	n := 3
	for i := len(name) - 1; i >= 0 && n > 0; i-- {
		c := name[i]
		if c == '_' || c == '-' || c == '.' || c == ' ' {
			continue
		}
		n--
		t[n] = lower(c)
	}
	if n > 0 {
		return [3]byte{}
	}
	return t
}

// endsWithAny reports whether name ends with one of suffixes.
func endsWithAny(name []byte, suffixes ...string) bool {
	for _, x := range suffixes {
		if len(x) <= len(name) && string(name[len(name)-len(x):]) == x {
			return true
		}
	}
	return false
}

// isAnyOf reports whether name is one of names.
func isAnyOf(name []byte, names ...string) bool {
	for _, x := range names {
		if string(name) == x {
			return true
		}
	}
	return false
}

// placeholders are values of secret-named keys that hold no secret: types
// in schemas and code, empty markers, and words standing in for a value.
var placeholders = []string{
	"str", "string", "bytes", "text", "secretstr", "null", "none", "nil",
	"undefined", "true", "false", "required", "optional", "redacted",
	"hidden", "masked", "password", "secret", "token", "example", "xxx",
	"changeme", "your_api_key", "<redacted>",
}

// isSecretValue reports whether the value of a secret-named key holds a
// secret rather than a placeholder: it is at least min bytes long, is not a
// placeholder word, a template or variable reference ("${API_KEY}",
// "$TOKEN", "{{ secret }}", "<token>", "%s"), a mask ("[API_KEY]"), a run of
// one repeated character ("********", "xxxxxxxx"), or an upper-case constant
// name such as "YOUR_API_KEY".
func isSecretValue(v string, min int) bool {
	if len(v) < min || isTemplate(v) || holdsMask(v) {
		return false
	}
	for _, p := range placeholders {
		if strings.EqualFold(v, p) {
			return false
		}
	}
	same, constant := true, true
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c != v[0] {
			same = false
		}
		if !isUpper(c) && c != '_' {
			constant = false
		}
	}
	return !same && !constant
}

// namedKind returns the kind of a key known by its whole name (see
// namedKeys), after dropping separators and case.
func namedKind(name string) keyKind {
	// Most names of JSON members end in letters no known name ends in.
	if t := lastLetters(name); t != [3]byte{} && !namedTails[t] && name[len(name)-1] < 0x80 && !strings.ContainsAny(name, "_-. ") {
		return keyOther
	}
	var buf [maxKeyName * 2]byte
	n := 0
	ascii := true
	for i := 0; i < len(name) && n < len(buf); i++ {
		c := name[i]
		if c == '_' || c == '-' || c == '.' || c == ' ' {
			continue
		}
		if c >= 0x80 {
			ascii = false
		}
		buf[n] = lower(c)
		n++
	}
	if n == 0 {
		return keyOther
	}
	norm := string(buf[:n])
	if !ascii {
		norm = strings.ToLower(norm)
	}
	if k, ok := namedKeys[norm]; ok {
		return k
	}
	// A national id's name among the parts: "customer_ssn", "tc_kimlik",
	// "n°_ss".
	for a := 0; a < len(name); {
		b := a
		for b < len(name) && name[b] != '_' && name[b] != '-' && name[b] != '.' && name[b] != ' ' {
			b++
		}
		if part := name[a:b]; b > a && (isFold(strongIDWords, part) || strings.EqualFold(part, "nss") || part == "n°ss") {
			return keyNationalID
		}
		a = b + 1
	}
	// "db_pass", "SMTP_PASS", "dbPass": a password, unlike "bypass".
	if len(name) > 4 {
		tail := name[len(name)-4:]
		sep := name[len(name)-5]
		if strings.EqualFold(tail, "pass") && (sep == '_' || sep == '-' || sep == '.' || tail == "Pass" && isLower(sep)) {
			return keyPassword
		}
	}
	return keyOther
}

// isTemplate reports whether v stands for a value rather than being one: a
// mask ("[API_KEY]"), a variable or template reference ("$TOKEN",
// "${API_KEY}", "$(cat key)", "{{ secret }}", "{token}", "<token>",
// "%s", "%(password)s", "%API_KEY%").
func isTemplate(v string) bool {
	switch v[0] {
	case '[':
		return true
	case '<':
		return v[len(v)-1] == '>'
	case '{':
		return v[len(v)-1] == '}'
	case '$':
		if len(v) > 1 && (v[1] == '{' || v[1] == '(') {
			return true
		}
		for i := 1; i < len(v); i++ {
			if !isAlnum(v[i]) && v[i] != '_' {
				return false
			}
		}
		return true
	case '%':
		if len(v) <= 3 || v[len(v)-1] == '%' {
			return true
		}
		if v[1] == '(' {
			c := strings.IndexByte(v, ')')
			return c > 2 && c == len(v)-2
		}
	}
	return false
}

// paginationToken reports whether a normalized key name is that of a
// pagination or synchronization token ("next_page_token", "cursor_token",
// "continuation_token"), which carries a position, not a credential.
func paginationToken(norm []byte) bool {
	n := string(norm)
	return strings.Contains(n, "page") || strings.Contains(n, "cursor") || strings.Contains(n, "continuation") ||
		strings.Contains(n, "next") || strings.Contains(n, "sync") || strings.Contains(n, "resume")
}

// namedTails are the last three letters of the names in namedKeys.
var namedTails = func() map[[3]byte]bool {
	m := map[[3]byte]bool{}
	for n := range namedKeys {
		if t := lastLetters(n); t != [3]byte{} {
			m[t] = true
		}
	}
	return m
}()
