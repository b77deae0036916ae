package redact

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// The lexicon knows words: the first, middle and last names, honorifics and
// street types of the gazetteer (data/gazetteer.txt.gz, generated from
// Faker's locale data by tools/gazetteer.py), the words of Faker's lorem
// lists, which are common words even where they are names too, and the
// context words of the detectors below, in the languages of the gazetteer's
// largest locales. Words are looked up by a hash of their lower case, one
// lookup per word of a text, which gives every flag of the word at once.

//go:embed data/gazetteer.txt.gz
var gazetteerGz []byte

// wordFlags says what the lexicon knows of a word.
type wordFlags uint32

const (
	wFirst     wordFlags = 1 << iota // a first (given) name
	wLast                            // a last name (surname)
	wMiddle                          // a middle name or patronymic
	wHonorific                       // Mr, Mrs, Dr, Herr, Frau, ...
	wStreet                          // a street type: Street, Avenue, rue, Via, ul.
	wCommon                          // a common word of some language
	wMonth                           // a month name, in some language
	wNameStop                        // a word that ends a name: and, or, from, ...

	// Context words: the word says that a value of a kind follows.
	wCtxName
	wCtxNameWeak // a greeting or a role: a name follows if the gazetteer agrees
	wCtxAddress
	wCtxDOB
	wCtxPassport
	wCtxNationalID
	wCtxPhone
	wCtxPassword
	wCtxSecret
	wCtxCard
	wCtxIBAN
)

// wCtxAny are the context flags.
const wCtxAny = wCtxName | wCtxNameWeak | wCtxAddress | wCtxDOB | wCtxPassport | wCtxNationalID | wCtxPhone | wCtxPassword | wCtxSecret | wCtxCard | wCtxIBAN

// contextWords are the words, in lower case, that announce a value of a
// kind. A context of several words is listed by its first, and checked by
// its detector.
var contextWords = map[wordFlags][]string{
	wCtxName: {
		"name", "names", "fullname", "surname", "forename", "firstname", "lastname", "nom", "prénom", "prenom", "nombre", "apellido", "apellidos",
		"nome", "cognome", "naam", "achternaam", "voornaam", "nazwisko", "imię", "imie", "namn", "efternamn", "förnamn", "navn", "efternavn",
		"isim", "adı", "adim", "adım", "soyadı", "имя", "фамилия", "фио", "зовут", "customer", "client", "cliente", "kunde", "klant", "klient", "kund",
		"müşteri", "клиент", "passenger", "patient", "holder", "cardholder", "recipient", "contact", "attn", "signed", "regards", "sincerely",
		"thanks", "cheers", "best", "grüße", "grüßen", "cordialement", "atentamente", "saluti", "groet", "pozdrawiam", "hälsningar", "hilsen",
		"saygılarımla", "уважением", "heiße", "heisse", "appelle", "llamo", "chiamo", "heet", "nazywam", "heter", "hedder", "traveller", "traveler",
		"employee", "applicant", "sender", "tenant", "beneficiary", "payee", "insured",
	},
	wCtxNameWeak: {
		"dear", "hi", "hello", "hey", "i'm", "im", "am", "is", "by", "mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "madam", "herr", "frau",
		"monsieur", "madame", "mme", "mlle", "señor", "señora", "sr", "sra", "signor", "signora", "sig", "bonjour", "hola", "ciao", "hallo",
		"hej", "olá", "ola", "sayın", "sehr", "geehrte", "geehrter", "estimado", "estimada", "gentile", "beste", "kære", "здравствуйте",
		"уважаемый", "уважаемая", "господин", "госпожа", "from", "to", "cc", "called", "named", "spoke", "with", "for", "asked", "per",
		"dobry", "dzień", "bom", "dia", "buongiorno", "buenos", "días", "goedemorgen", "goedendag", "god", "morgen", "kedves", "merhaba",
		"ask", "tell", "thank", "welcome", "congratulations",
	},
	wCtxAddress: {
		"address", "addresses", "addr", "adresse", "adresi", "adresim", "anschrift", "dirección", "direccion", "domicilio", "indirizzo", "adres", "endereço", "endereco",
		"morada", "adress", "adresa", "адрес", "street", "ship", "shipping", "deliver", "delivery", "lieferadresse", "billing", "live", "lives",
		"reside", "resides", "located", "wohne", "habite", "vivo", "abito", "woon", "mieszkam", "moro", "bor", "живу", "postal", "mailing",
	},
	wCtxDOB: {
		"dob", "d.o.b", "born", "birth", "birthdate", "birthday", "geburtsdatum", "geboren", "geb", "naissance", "né", "née", "nacimiento",
		"nacido", "nacida", "nascita", "nato", "nata", "geboortedatum", "geboren", "urodzenia", "urodzony", "urodzona", "födelsedatum", "född",
		"fødselsdato", "født", "doğum", "рождения", "родился", "родилась", "nascimento", "nascido", "nascida", "age",
	},
	wCtxPassport: {
		"passport", "passports", "passport#", "reisepass", "reisepassnummer", "passnummer", "pass", "passeport", "pasaporte", "passaporto",
		"paspoort", "paspoortnummer", "paszport", "paszportu", "passaporte", "pasaport", "pas", "pasnummer", "паспорт", "загранпаспорт",
		"паспорта", "travel",
	},
	wCtxNationalID: {
		"ssn", "ssn#", "ss#", "ss", "social", "soc", "nino", "ni", "insurance", "national", "pesel", "cpf", "bsn", "burgerservicenummer",
		"personnummer", "personnr", "codice", "fiscale", "cf", "nir", "sécurité", "securite", "dni", "nie", "nif", "cpr", "cpr-nummer",
		"kimlik", "tc", "t.c", "инн", "снилс", "steuer-id", "steueridentifikationsnummer", "steuernummer", "tax", "tin", "aadhaar", "aadhar",
		"pan", "sin", "tfn", "hetu", "henkilötunnus", "fødselsnummer", "rut", "curp", "rfc", "ahv", "avs", "cnp", "egn", "oib", "emšo", "id",
		"identity", "identification", "personalausweis", "ausweis", "ausweisnummer", "carte", "cédula", "cedula", "documento", "numéro",
	},
	wCtxPhone: {
		"phone", "phones", "telephone", "tel", "mobile", "mob", "cell", "cellphone", "call", "calls", "calling", "sms", "text", "whatsapp", "fax",
		"reach", "dial", "ring", "telefon", "telefonnummer", "handy", "téléphone", "telephone", "portable", "tél", "teléfono", "telefono", "móvil",
		"movil", "celular", "cellulare", "telefoon", "mobiel", "bel", "telefone", "zadzwoń", "zadzwon", "numer", "ring", "телефон", "тел",
		"позвоните", "мобильный", "contact", "msisdn", "hotline",
		"rufen", "anrufen", "erreichen", "erreichbar", "llámame", "llamame", "llamar", "chiamami", "chiamare", "appelez-moi", "appelez",
		"appeler", "joindre", "ligue", "ligar", "zadzwoń", "dzwoń", "звоните", "ring", "ringer", "bellen", "aranabilirsiniz", "arayın",
		"ara", "kontakt", "kontaktnummer", "emergency", "dialled", "dialed", "callback", "tlf", "tfn", "tel.", "telf",
	},
	wCtxPassword: {
		"password", "passwords", "passwd", "pass", "pwd", "pw", "passphrase", "passcode", "pin", "passwort", "kennwort", "motdepasse", "mot",
		"contraseña", "contrasena", "clave", "senha", "wachtwoord", "hasło", "haslo", "lösenord", "losenord", "adgangskode", "şifre", "sifre",
		"parola", "пароль", "пароля", "heslo", "salasana",
	},
	wCtxSecret: {
		"token", "tokens", "apikey", "api", "key", "secret", "secrets", "credential", "credentials", "bearer", "auth", "authorization",
		"cookie", "session", "sessionid", "access", "refresh",
	},
	wCtxCard: {"card", "cards", "karte", "carte", "tarjeta", "carta", "kaart", "karta", "kort", "kart", "карта", "карты", "cc", "pan", "visa", "mastercard", "amex"},
	wCtxIBAN: {"iban", "rib", "bankverbindung", "konto", "conto", "cuenta", "rekening", "rekeningnummer", "account", "bank"},
}

// nameStops end a run of name words.
var nameStops = []string{"and", "or", "from", "to", "at", "in", "on", "for", "with", "the", "a", "an", "of", "is", "was", "will", "und", "et", "y", "e", "en", "och", "og", "и"}

// months are month names and their abbreviations, in the languages dates
// of birth are written in.
var months = []string{
	"january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december",
	"jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
	"januar", "februar", "märz", "maerz", "mai", "juni", "juli", "oktober", "dezember",
	"janvier", "février", "fevrier", "mars", "avril", "juin", "juillet", "août", "aout", "septembre", "octobre", "novembre", "décembre", "decembre",
	"enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "setiembre", "octubre", "noviembre", "diciembre",
	"gennaio", "febbraio", "aprile", "maggio", "giugno", "luglio", "settembre", "ottobre", "dicembre",
	"januari", "februari", "maart", "mei", "augustus",
	"janeiro", "fevereiro", "março", "maio", "junho", "julho", "setembro", "outubro", "novembro", "dezembro",
	"stycznia", "lutego", "marca", "kwietnia", "maja", "czerwca", "lipca", "sierpnia", "września", "października", "listopada", "grudnia",
	"января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября", "октября", "ноября", "декабря",
}

// monthNumber gives each month name its number.
var monthNumber = func() map[string]int {
	m := map[string]int{}
	groups := [][]string{
		{"january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"},
		{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"},
		{"januar", "februar", "märz", "april", "mai", "juni", "juli", "august", "september", "oktober", "november", "dezember"},
		{"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"},
		{"enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre"},
		{"gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto", "settembre", "ottobre", "novembre", "dicembre"},
		{"januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober", "november", "december"},
		{"janeiro", "fevereiro", "março", "abril", "maio", "junho", "julho", "agosto", "setembro", "outubro", "novembro", "dezembro"},
		{"stycznia", "lutego", "marca", "kwietnia", "maja", "czerwca", "lipca", "sierpnia", "września", "października", "listopada", "grudnia"},
		{"января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября", "октября", "ноября", "декабря"},
	}
	for _, g := range groups {
		for i, name := range g {
			m[name] = i + 1
		}
	}
	m["sept"], m["maerz"], m["fevrier"], m["aout"], m["decembre"], m["setiembre"] = 9, 3, 2, 8, 12, 9
	return m
}()

// lexicon is the word table, built on first use.
type lexicon struct {
	words wordTable
	// endings are the street types written glued to a name
	// ("Hauptstraße", "Stationsvägen"), in lower case, longest first;
	// endingsByTail indexes them by their last two bytes.
	endings       []string
	endingsByTail map[uint16][]string
}

var theLexicon = sync.OnceValue(buildLexicon)

func buildLexicon() *lexicon {
	lx := &lexicon{}
	lx.words.init(1 << 18)
	zr, err := gzip.NewReader(bytes.NewReader(gazetteerGz))
	if err != nil {
		panic("redact: the embedded gazetteer does not decompress: " + err.Error())
	}
	sc := bufio.NewScanner(zr)
	var flag wordFlags
	ending := false
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "# ") {
			ending = false
			switch strings.TrimPrefix(line, "# ") {
			case "first":
				flag = wFirst
			case "last":
				flag = wLast
			case "middle":
				flag = wMiddle
			case "honorific":
				flag = wHonorific
			case "street_word":
				flag = wStreet
			case "street_ending":
				flag, ending = 0, true
			case "common":
				flag = wCommon
			default:
				flag = 0
			}
			continue
		}
		if ending {
			lx.endings = append(lx.endings, line)
			continue
		}
		if flag != 0 && line != "" {
			lx.add(strings.TrimSuffix(line, "."), flag)
			if flag == wHonorific || flag == wStreet {
				lx.add(line, flag)
			}
		}
	}
	if err := sc.Err(); err != nil {
		panic("redact: the embedded gazetteer does not read: " + err.Error())
	}
	for f, ws := range contextWords {
		for _, w := range ws {
			lx.add(w, f)
		}
	}
	for _, w := range nameStops {
		lx.add(w, wNameStop)
	}
	for _, w := range months {
		lx.add(w, wMonth)
	}
	// Street types that are common abbreviations in the locales' own
	// writing, beyond Faker's lists.
	for _, w := range []string{"St", "Rd", "Ave", "Blvd", "Ln", "Dr", "Ct", "Pl", "Sq", "Hwy", "Pkwy", "Str", "Via", "Viale", "Corso", "Piazza",
		"Calle", "Avda", "Plaza", "Paseo", "Rua", "Avenida", "Travessa", "Rue", "Avenue", "Boulevard", "Chemin", "Impasse", "Allée", "Quai",
		"ul", "al", "os", "pl", "ulica", "aleja", "plac", "osiedle", "Straße", "Strasse", "Weg", "Gasse", "Platz", "Allee", "Ring", "Damm", "Ufer", "Sokak", "Sokağı",
		"Cadde", "Caddesi", "Mahallesi", "Bulvarı", "ул", "улица", "пр", "пер", "проспект", "переулок", "бул", "наб", "шоссе", "д", "дом"} {
		lx.add(w, wStreet)
	}
	for _, e := range []string{"straße", "strasse", "str.", "weg", "gasse", "allee", "platz", "ring", "damm", "ufer", "chaussee", "steig", "pfad",
		"laan", "straat", "plein", "gracht", "singel", "kade", "dreef", "hof", "vägen", "gatan", "gränd", "torget", "vej", "gade", "allé", "plads",
		"stræde", "veien", "gata", "tie", "katu", "kuja"} {
		lx.endings = append(lx.endings, e)
	}
	slicesSortByLenDesc(lx.endings)
	lx.endingsByTail = map[uint16][]string{}
	for _, e := range lx.endings {
		if len(e) >= 2 {
			k := tailKey(e)
			lx.endingsByTail[k] = append(lx.endingsByTail[k], e)
		}
	}
	return lx
}

func slicesSortByLenDesc(xs []string) {
	for i := 1; i < len(xs); i++ {
		for j := i; j > 0 && len(xs[j]) > len(xs[j-1]); j-- {
			xs[j], xs[j-1] = xs[j-1], xs[j]
		}
	}
}

func (lx *lexicon) add(w string, f wordFlags) {
	if w == "" {
		return
	}
	lx.words.or(wordHash(w), f)
}

// lookup returns the flags of a word.
func (lx *lexicon) lookup(w string) wordFlags { return lx.words.get(wordHash(w)) }

// wordTable is an open-addressing hash table from word hashes to flags:
// a lookup is a few loads, where a map costs a hash and a probe of its
// own. Hash 0 marks an empty slot (no word hashes to 0 in practice; one
// that did would be missing from the lexicon, not wrong).
type wordTable struct {
	keys  []uint64
	flags []wordFlags
	mask  uint64
	n     int
}

func (t *wordTable) init(size int) {
	t.keys = make([]uint64, size)
	t.flags = make([]wordFlags, size)
	t.mask = uint64(size - 1)
}

func (t *wordTable) or(h uint64, f wordFlags) {
	if h == 0 {
		return
	}
	if 2*(t.n+1) > len(t.keys) {
		old := *t
		t.init(2 * len(old.keys))
		for i, k := range old.keys {
			if k != 0 {
				t.or(k, old.flags[i])
			}
		}
	}
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		switch t.keys[i] {
		case h:
			t.flags[i] |= f
			return
		case 0:
			t.keys[i], t.flags[i] = h, f
			t.n++
			return
		}
	}
}

func (t *wordTable) get(h uint64) wordFlags {
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		switch t.keys[i] {
		case h:
			return t.flags[i]
		case 0:
			return 0
		}
	}
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// wordHash is the FNV-1a hash of a word's lower case.
func wordHash(w string) uint64 {
	h := uint64(fnvOffset)
	for i := 0; i < len(w); {
		c := w[i]
		if c < utf8.RuneSelf {
			h = (h ^ uint64(lower(c))) * fnvPrime
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(w[i:])
		i += size
		var buf [4]byte
		n := utf8.EncodeRune(buf[:], unicode.ToLower(r))
		for _, b := range buf[:n] {
			h = (h ^ uint64(b)) * fnvPrime
		}
	}
	return h
}
