// Decodes every vector listed in ../manifest.json with kafka-clients' own
// codec (RequestHeader.parse + AbstractRequest.parseRequest,
// AbstractResponse.parseResponse) and fails if a frame does not decode or
// leaves bytes over. capture.sh runs it after capture.py check:
//
//   java -cp "$(compat-tests/apache-kafka.sh classpath)" Decode.java protocol/tests/vectors

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.ByteBufferAccessor;
import org.apache.kafka.common.requests.AbstractRequest;
import org.apache.kafka.common.requests.AbstractResponse;
import org.apache.kafka.common.requests.RequestHeader;

public class Decode {
    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args.length > 0 ? args[0] : ".");
        String manifest = Files.readString(dir.resolve("manifest.json"));
        Matcher m = Pattern.compile("\"file\": \"([^\"]+\\.req\\.bin)\"").matcher(manifest);
        int ok = 0, failed = 0;
        while (m.find()) {
            String req = m.group(1);
            String resp = req.replace(".req.bin", ".resp.bin");
            try {
                ByteBuffer rb = ByteBuffer.wrap(Files.readAllBytes(dir.resolve(req)));
                RequestHeader header = RequestHeader.parse(rb);
                ApiKeys key = header.apiKey();
                AbstractRequest.parseRequest(key, header.apiVersion(), new ByteBufferAccessor(rb));
                if (rb.hasRemaining()) throw new IllegalStateException(rb.remaining() + " request bytes left");
                ByteBuffer sb = ByteBuffer.wrap(Files.readAllBytes(dir.resolve(resp)));
                AbstractResponse response = AbstractResponse.parseResponse(sb, header);
                if (sb.hasRemaining()) throw new IllegalStateException(sb.remaining() + " response bytes left");
                System.out.printf("ok   %-40s %s v%d errors=%s%n", req, key.name, header.apiVersion(),
                    response.errorCounts());
                ok++;
            } catch (Exception e) {
                System.out.printf("FAIL %-40s %s%n", req, e);
                failed++;
            }
        }
        System.out.printf("decode: %d pairs ok, %d failed%n", ok, failed);
        System.exit(failed == 0 && ok > 0 ? 0 : 1);
    }
}
