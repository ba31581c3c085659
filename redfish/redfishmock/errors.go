package redfishmock

import "encoding/json"

// Base registry message ids used in error bodies.
const (
	msgGeneralError           = "Base.1.8.GeneralError"
	msgNoValidSession         = "Base.1.8.NoValidSession"
	msgResourceMissingAtURI   = "Base.1.8.ResourceMissingAtURI"
	msgSessionLimitExceeded   = "Base.1.8.SessionLimitExceeded"
	msgServiceTempUnavailable = "Base.1.8.ServiceTemporarilyUnavailable"
	msgUnauthorized           = "Base.1.8.ResourceAtUriUnauthorized"
	msgOperationNotAllowed    = "Base.1.8.OperationNotAllowed"
	msgMalformedJSON          = "Base.1.8.MalformedJSON"
	msgQueryValueFormatError  = "Base.1.8.QueryParameterValueFormatError"
	msgQueryNotSupported      = "Base.1.8.QueryNotSupportedOnResource"
)

type extendedInfo struct {
	ODataType   string   `json:"@odata.type"`
	MessageID   string   `json:"MessageId"`
	Message     string   `json:"Message"`
	MessageArgs []string `json:"MessageArgs"`
	Severity    string   `json:"Severity"`
	Resolution  string   `json:"Resolution"`
}

// errorBody is a Redfish error response (DSP0266 "Error responses").
func errorBody(msgID, message, resolution string, args ...string) []byte {
	if args == nil {
		args = []string{}
	}
	var body struct {
		Error struct {
			Code    string         `json:"code"`
			Message string         `json:"message"`
			Info    []extendedInfo `json:"@Message.ExtendedInfo"`
		} `json:"error"`
	}
	body.Error.Code = msgGeneralError
	body.Error.Message = "A general error has occurred. See ExtendedInfo for more information."
	body.Error.Info = []extendedInfo{{
		ODataType: "#Message.v1_1_1.Message", MessageID: msgID, Message: message,
		MessageArgs: args, Severity: "Critical", Resolution: resolution,
	}}
	b, _ := json.Marshal(body) // a fixed struct of strings cannot fail to encode
	return b
}
